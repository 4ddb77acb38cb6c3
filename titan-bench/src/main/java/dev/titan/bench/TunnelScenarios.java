package dev.titan.bench;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The reverse tunnel's scenarios, Titan's tunnel beside {@code ssh -R}: keep-alive requests in
 * the pinned and the unpinned placement, throughput with the client beside the proxy or beside
 * the service, idle streams; and the forward proxies the overlay's ingress will be compared with.
 */
final class TunnelScenarios {
    private final BenchMain bench;
    private final Systems sys;

    TunnelScenarios(BenchMain bench, Systems sys) {
        this.bench = bench;
        this.sys = sys;
    }

    /**
     * Keep-alive requests to the backend directly, through Titan's reverse tunnel (HTTP by Host on
     * the tunnel port) and through {@code ssh -R}. The pinned placement: the tunnel's processes (both ends, and sshd with ssh) on the proxy cores, wrk and nginx on the others. */
    void rps(int r, int secs) throws Exception {
        rps("tunnel-rps", sys.proxyCpus, sys.loadCpus, r, secs);
    }

    /**
     * The unpinned placement, as most users (and GT's own comparison) measure a tunnel: server,
     * client, nginx and wrk share every core of the machine, and the scheduler places them.
     */
    void rpsUnpinned(int r, int secs) throws Exception {
        sys.pinBackend(sys.allCpus);
        try {
            rps("tunnel-rps-unpinned", sys.allCpus, sys.allCpus, r, secs);
        } finally {
            sys.pinBackend(sys.loadCpus);
        }
    }

    private void rps(String scenario, String tunnelCpus, String loadCpus, int r, int secs) throws Exception {
        List<Proc> procs = new ArrayList<>();
        Map<Systems.Proxy, List<Proc>> owners = new LinkedHashMap<>();
        try {
            owners.put(Systems.TITAN_TUNNEL, sys.startTitanTunnel(tunnelCpus, tunnelCpus));
            owners.put(Systems.SSH_R, sys.startSshTunnel(tunnelCpus, tunnelCpus));
            owners.values().forEach(procs::addAll);
            Probe.awaitHttp(Systems.TITAN_TUNNEL.httpPort(), Systems.TUNNEL_HOST, 60_000);
            if (!bench.quick()) {
                Wrk.run(loadCpus, Systems.TITAN_TUNNEL.httpPort(), 10, 5, true, Systems.TUNNEL_HOST); // connection path warm-up, as for the L4 proxies
                LoopbackPorts.awaitTimeWaitDrained(1_000);
            }
            bench.settle(scenario, Systems.TITAN_TUNNEL, BenchMain.TUNNEL_SETTLE_SECONDS, Systems.TUNNEL_HOST, loadCpus);
            bench.measureRounds(scenario, List.of(Systems.DIRECT, Systems.TITAN_TUNNEL, Systems.SSH_R), r, secs,
                    BenchMain.withCpu(owners, (p, d) -> Wrk.run(loadCpus, p.httpPort(), 100, d, false,
                            p == Systems.TITAN_TUNNEL ? Systems.TUNNEL_HOST : null)));
        } finally {
            procs.forEach(sys::stop);
        }
    }

    /**
     * The load generator's SOCKS5 and HTTP CONNECT clients, through the peers the overlay will be
     * compared with (microsocks, tinyproxy) and directly: closed loop, 100 keep-alive connections.
     * Proves the clients work and records the peers' figures as a baseline.
     */
    void proxyClients(LoadGen gen, int r, int secs) throws Exception {
        List<Proc> procs = new ArrayList<>(sys.startForwardProxies());
        InetSocketAddress backend = new InetSocketAddress("127.0.0.1", Systems.BACKEND);
        try {
            bench.measureRounds("proxy-clients", List.of(Systems.DIRECT, Systems.MICROSOCKS, Systems.TINYPROXY), r, secs, (p, d) -> {
                LoadGen.Via via = p == Systems.MICROSOCKS ? new LoadGen.Via("socks5", new InetSocketAddress("127.0.0.1", p.httpPort()))
                        : p == Systems.TINYPROXY ? new LoadGen.Via("http", new InetSocketAddress("127.0.0.1", p.httpPort())) : null;
                return gen.closedLoop(backend, via, 100, Duration.ofSeconds(d)).metrics("req_per_s");
            });
        } finally {
            procs.forEach(sys::stop);
        }
    }

    /**
     * iperf3 directly, through Titan's tunnel (a mapped TCP port) and through {@code ssh -R}, each
     * tunnel's server (Titan's server, sshd) on the proxy cores and its client (Titan's client,
     * {@code ssh}) on {@code clientCpus}: the proxy cores too in {@code tunnel-throughput}, where
     * the tunnel's two ends share them, the backend's in {@code tunnel-throughput-apart}, where the
     * client runs beside the service it exposes, as it does in a deployment.
     */
    void throughput(String scenario, String clientCpus, int r, int secs) throws Exception {
        List<Proc> procs = new ArrayList<>();
        procs.add(sys.startIperfServer());
        try {
            procs.addAll(sys.startTitanTunnel(sys.proxyCpus, clientCpus));
            procs.addAll(sys.startSshTunnel(sys.proxyCpus, clientCpus));
            bench.measureRounds(scenario, List.of(Systems.DIRECT, Systems.TITAN_TUNNEL, Systems.SSH_R), r, secs, (p, d) -> {
                Map<String, Double> v = new LinkedHashMap<>();
                v.put("gbit_1_stream", bench.iperf(sys, p, 1, d));
                v.put("gbit_4_streams", bench.iperf(sys, p, 4, d));
                return v;
            });
        } finally {
            procs.forEach(sys::stop);
        }
    }

    /**
     * {@code n} idle connections through one tunnel (each a stream to the backend, via the mapped
     * TCP port) and through {@code ssh -R}: growth of the tunnel's RSS (server and client processes
     * together, as sshd and ssh) per connection.
     */
    void concurrency(LoadGen gen, int n) throws Exception {
        List<InetSocketAddress> sources = new ArrayList<>();
        for (int i = 1; i <= 8; i++) {
            sources.add(new InetSocketAddress(InetAddress.getByName("127.0.0." + i), 0));
        }
        for (String system : List.of("titan-tunnel", "ssh-R")) {
            List<Proc> procs = system.equals("titan-tunnel") ? sys.startTitanTunnel() : sys.startSshTunnel();
            int port = system.equals("titan-tunnel") ? Systems.TITAN_TUNNEL_TCP : Systems.SSH_R_TCP;
            try {
                long heapBefore = Proc.liveHeapKib(procs); // before the warm-up, which leaves garbage for RSS to count as before
                Probe.warmUp(port);
                Thread.sleep(1000);
                long before = procs.stream().mapToLong(Proc::rssKib).sum();
                List<io.netty.channel.Channel> conns = gen.idle(sources, new InetSocketAddress("127.0.0.1", port), n);
                Thread.sleep(bench.quick() ? 1000 : 3000);
                long after = procs.stream().mapToLong(Proc::rssKib).sum();
                double perConn = (after - before) / (double) Math.max(1, conns.size());
                System.out.printf("  %-13s %,d connections (streams) open: RSS %,d -> %,d KiB, %.2f KiB per connection%n", system,
                        conns.size(), before, after, perConn);
                bench.results.add("tunnel-concurrency", "kib_per_conn_" + n, system, perConn);
                bench.results.add("tunnel-concurrency", "rss_mib_at_" + n, system, after / 1024.0);
                long heapAfter = Proc.liveHeapKib(procs);
                if (heapBefore >= 0 && heapAfter >= 0) { // JVMs: the live heap's growth, which does not move with the collector's timing
                    double heapPerConn = (heapAfter - heapBefore) / (double) Math.max(1, conns.size());
                    System.out.printf("  %-13s live heap %,d -> %,d KiB, %.2f KiB per connection%n", system, heapBefore, heapAfter, heapPerConn);
                    bench.results.add("tunnel-concurrency", "heap_kib_per_conn_" + n, system, heapPerConn);
                }
                bench.results.add("tunnel-concurrency", "opened_" + n, system, (double) conns.size());
                for (io.netty.channel.Channel c : conns) {
                    c.close();
                }
                Thread.sleep(500);
            } finally {
                procs.forEach(sys::stop);
            }
        }
    }
}
