package dev.titan.bench;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The IP overlay's scenarios: Titan's PoP with an edge (two processes; SOCKS5 with a login) beside
 * the SOCKS5 servers users would otherwise run: microsocks and dante (one hop, the exit on the
 * proxy itself) and {@code ssh -R PORT} (OpenSSH's reverse dynamic forwarding: the SOCKS listener on
 * sshd's side, the exit on the dialling ssh's side, the topology of PoP → edge).
 */
final class OverlayScenarios {
    private static final int CONCURRENCY = 20;

    private final BenchMain bench;
    private final Systems sys;

    OverlayScenarios(BenchMain bench, Systems sys) {
        this.bench = bench;
        this.sys = sys;
    }

    private static LoadGen.Via via(Systems.Proxy p) {
        InetSocketAddress at = new InetSocketAddress("127.0.0.1", p.httpPort());
        if (p == Systems.TITAN_OVERLAY_BY_SOURCE) {
            return new LoadGen.Via("socks5", at, null, null, Systems.OVERLAY_SOURCE);
        }
        return p == Systems.TITAN_OVERLAY || p == Systems.TITAN_OVERLAY_0RTT_OFF || p == Systems.MICROSOCKS_LOGIN
                ? new LoadGen.Via("socks5", at, Systems.OVERLAY_USER, Systems.OVERLAY_PASSWORD) : new LoadGen.Via("socks5", at);
    }

    /**
     * A new connection and one small HTTP request each ({@code Connection: close}), {@value #CONCURRENCY}
     * at a time, through each SOCKS5 server to the backend: connections per second and latency
     * (from the connect to the proxy to the end of the response). Every proxy runs on the proxy cores.
     * Titan and microsocks run twice each, so that each has a peer with the same handshake: with a
     * login (RFC 1929: one more round trip and two more segments per connection), and without one
     * (Titan's PoP admits the client by its source address; microsocks, dante and ssh -R ask for
     * nothing).
     */
    void connrate(LoadGen gen, int r, int secs) throws Exception {
        List<Proc> procs = new ArrayList<>();
        Map<Systems.Proxy, List<Proc>> owners = new LinkedHashMap<>();
        InetSocketAddress backend = new InetSocketAddress("127.0.0.1", Systems.BACKEND);
        try {
            owners.put(Systems.TITAN_OVERLAY, overlay(sys.proxyCpus, Systems.POP_EDGES));
            owners.put(Systems.TITAN_OVERLAY_BY_SOURCE, owners.get(Systems.TITAN_OVERLAY)); // the same PoP and edge
            owners.put(Systems.MICROSOCKS, List.of(sys.startMicrosocks(sys.proxyCpus)));
            owners.put(Systems.MICROSOCKS_LOGIN, List.of(sys.startMicrosocksWithLogin(sys.proxyCpus)));
            owners.put(Systems.DANTE, List.of(sys.startDante(sys.proxyCpus)));
            owners.put(Systems.SSH_R_DYNAMIC, sys.startSshDynamic(sys.proxyCpus, sys.proxyCpus));
            owners.values().stream().distinct().forEach(procs::addAll);
            if (!bench.quick()) { // Titan's JIT: the connection path compiled before the rounds, as the L4 scenarios do
                for (int i = 0; i < 3; i++) {
                    LoadGen.Result w = gen.connectionRate(backend, via(Systems.TITAN_OVERLAY), CONCURRENCY, Duration.ofSeconds(10));
                    System.out.printf("  settle titan-overlay %d-%d s %,.0f conn/s%n", i * 10, i * 10 + 10, w.rps());
                }
            }
            bench.measureRounds("overlay-connrate", List.of(Systems.DIRECT, Systems.TITAN_OVERLAY, Systems.MICROSOCKS_LOGIN,
                    Systems.TITAN_OVERLAY_BY_SOURCE, Systems.MICROSOCKS, Systems.DANTE,
                    Systems.SSH_R_DYNAMIC), r, secs, BenchMain.withCpu(owners, (p, d) -> {
                        LoadGen.Result g = p == Systems.DIRECT ? gen.connectionRate(backend, CONCURRENCY, Duration.ofSeconds(d))
                                : gen.connectionRate(backend, via(p), CONCURRENCY, Duration.ofSeconds(d));
                        return g.metrics("conn_per_s");
                    }));
        } finally {
            procs.forEach(sys::stop);
        }
    }

    /**
     * iperf3 with 1 and 4 streams through each SOCKS5 server (proxychains4 makes iperf3 use it) to an
     * iperf3 server on the load core, and directly; Gbit/s received. The SOCKS listeners (Titan's
     * PoP, microsocks, dante, sshd) on the proxy core; the exits of the two-hop systems (Titan's
     * edge, the dialling ssh) on the load core, apart from their PoP as deployed.
     */
    void throughput(int r, int secs) throws Exception {
        List<Proc> procs = new ArrayList<>();
        procs.add(sys.startIperfServer());
        try {
            procs.addAll(overlay(sys.proxyCpus, sys.loadCpus, Systems.POP_EDGES));
            procs.add(sys.startMicrosocks(sys.proxyCpus));
            procs.add(sys.startDante(sys.proxyCpus));
            procs.addAll(sys.startSshDynamic(sys.proxyCpus, sys.loadCpus));
            Map<Systems.Proxy, List<String>> chains = new LinkedHashMap<>();
            for (Systems.Proxy p : List.of(Systems.TITAN_OVERLAY, Systems.MICROSOCKS, Systems.DANTE, Systems.SSH_R_DYNAMIC)) {
                chains.put(p, List.of("proxychains4", "-q", "-f", proxychains(p).toString()));
            }
            bench.measureRounds("overlay-throughput", List.of(Systems.DIRECT, Systems.TITAN_OVERLAY, Systems.MICROSOCKS, Systems.DANTE,
                    Systems.SSH_R_DYNAMIC), r, secs, (p, d) -> {
                        List<String> prefix = p == Systems.DIRECT ? List.of() : chains.get(p);
                        if (prefix == null) { // iperf3 without proxychains would measure the direct path under p's name
                            throw new IllegalStateException("overlay-throughput: no SOCKS5 chain for " + p.name());
                        }
                        Map<String, Double> v = new LinkedHashMap<>();
                        v.put("gbit_1_stream", bench.iperf(sys, p, Systems.IPERF, prefix, 1, d));
                        v.put("gbit_4_streams", bench.iperf(sys, p, Systems.IPERF, prefix, 4, d));
                        return v;
                    });
        } finally {
            procs.forEach(sys::stop);
        }
    }

    /**
     * {@code n} idle connections to the backend through the overlay (each a SOCKS5 connection at the
     * PoP, a stream in the one edge tunnel, and a connection from the edge) and through ssh's reverse
     * dynamic forwarding: growth of the processes' RSS (PoP and edge together; sshd and ssh) per
     * connection.
     */
    void concurrency(LoadGen gen, int n) throws Exception {
        InetSocketAddress backend = new InetSocketAddress("127.0.0.1", Systems.BACKEND);
        for (Systems.Proxy p : List.of(Systems.TITAN_OVERLAY, Systems.SSH_R_DYNAMIC)) {
            List<Proc> procs = p == Systems.TITAN_OVERLAY ? overlay(sys.proxyCpus, Systems.POP_EDGES)
                    : sys.startSshDynamic(sys.proxyCpus, sys.proxyCpus);
            try {
                long heapBefore = Proc.liveHeapKib(procs); // before the warm-up, which leaves garbage for RSS to count as before
                gen.connectionRate(backend, via(p), 10, Duration.ofSeconds(bench.quick() ? 1 : 5)); // the path warmed up
                Thread.sleep(1000);
                long before = procs.stream().mapToLong(Proc::rssKib).sum();
                List<io.netty.channel.Channel> conns = gen.idle(backend, via(p), n);
                Thread.sleep(bench.quick() ? 1000 : 3000);
                long after = procs.stream().mapToLong(Proc::rssKib).sum();
                double perConn = (after - before) / (double) Math.max(1, conns.size());
                System.out.printf("  %-13s %,d connections open: RSS %,d -> %,d KiB, %.2f KiB per connection%n", p.name(), conns.size(), before,
                        after, perConn);
                bench.results.add("overlay-concurrency", "kib_per_conn_" + n, p.name(), perConn);
                bench.results.add("overlay-concurrency", "rss_mib_at_" + n, p.name(), after / 1024.0);
                long heapAfter = Proc.liveHeapKib(procs);
                if (heapBefore >= 0 && heapAfter >= 0) { // JVMs: the live heap's growth, which does not move with the collector's timing
                    double heapPerConn = (heapAfter - heapBefore) / (double) Math.max(1, conns.size());
                    System.out.printf("  %-13s live heap %,d -> %,d KiB, %.2f KiB per connection%n", p.name(), heapBefore, heapAfter, heapPerConn);
                    bench.results.add("overlay-concurrency", "heap_kib_per_conn_" + n, p.name(), heapPerConn);
                }
                bench.results.add("overlay-concurrency", "opened_" + n, p.name(), (double) conns.size());
                conns.forEach(io.netty.channel.Channel::close);
            } finally {
                procs.forEach(sys::stop);
            }
        }
    }

    /**
     * Prioritized scheduling: new connections' time to first byte (a SOCKS5 login and CONNECT, a
     * request, the answer's first byte; one at a time) through the overlay while the same edge tunnel
     * is idle and while one iperf3 stream saturates it; p50, p99, and the bulk stream's Gbit/s.
     */
    void openUnderLoad(int r, int secs) throws Exception {
        List<Proc> procs = new ArrayList<>();
        procs.add(sys.startIperfServer());
        try {
            procs.addAll(overlay(sys.proxyCpus, Systems.POP_EDGES));
            List<String> chain = List.of("proxychains4", "-q", "-f", proxychains(Systems.TITAN_OVERLAY).toString());
            for (int i = 0; i < 200; i++) {
                firstByte(Systems.TITAN_OVERLAY.httpPort(), Systems.BACKEND); // warm the path
            }
            Systems.Proxy idle = new Systems.Proxy("titan-overlay-idle", Systems.TITAN_OVERLAY.httpPort(), -1);
            Systems.Proxy busy = new Systems.Proxy("titan-overlay-bulk", Systems.TITAN_OVERLAY.httpPort(), -1);
            bench.measureRounds("overlay-open-under-load", List.of(idle, busy), r, secs, (p, d) -> {
                java.util.concurrent.CompletableFuture<Double> bulk = p == busy
                        ? java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                            try {
                                return bench.iperf(sys, Systems.TITAN_OVERLAY, Systems.IPERF, chain, 1, d + 2);
                            } catch (Exception e) {
                                throw new IllegalStateException(e);
                            }
                        }) : null;
                if (bulk != null) {
                    Thread.sleep(1000); // the stream at full speed first
                }
                List<Double> ms = new ArrayList<>();
                long end = System.nanoTime() + Duration.ofSeconds(d).toNanos();
                while (System.nanoTime() < end && ms.size() < 20_000) {
                    ms.add(firstByte(p.httpPort(), Systems.BACKEND) / 1e6);
                    Thread.sleep(5);
                }
                double[] sorted = ms.stream().mapToDouble(Double::doubleValue).sorted().toArray();
                Map<String, Double> v = new LinkedHashMap<>();
                v.put("open_to_first_byte_p50_ms", sorted[sorted.length / 2]);
                v.put("open_to_first_byte_p99_ms", sorted[Math.min(sorted.length - 1, (int) (sorted.length * 0.99))]);
                v.put("opens", (double) sorted.length);
                if (bulk != null) {
                    v.put("bulk_gbit", bulk.get());
                }
                return v;
            });
        } finally {
            procs.forEach(sys::stop);
        }
    }

    /** A proxychains4 configuration that sends every connection through SOCKS5 server {@code p} (with the overlay's login for Titan). */
    private java.nio.file.Path proxychains(Systems.Proxy p) throws IOException {
        String login = p == Systems.TITAN_OVERLAY ? " " + Systems.OVERLAY_USER + " " + Systems.OVERLAY_PASSWORD : "";
        java.nio.file.Path conf = java.nio.file.Files.createTempFile("proxychains-" + p.name() + "-", ".conf");
        conf.toFile().deleteOnExit();
        java.nio.file.Files.writeString(conf, "strict_chain\nquiet_mode\ntcp_read_time_out 15000\ntcp_connect_time_out 8000\n[ProxyList]\nsocks5 127.0.0.1 "
                + p.httpPort() + login + "\n");
        return conf;
    }

    /** The PoPs and their edge; waits until the edge's tunnels are up (a SOCKS5 request through each PoP answers). */
    private List<Proc> overlay(String cpus, int edgeDialPort) throws Exception {
        return overlay(cpus, cpus, edgeDialPort);
    }

    private List<Proc> overlay(String popCpus, String edgeCpus, int edgeDialPort) throws Exception {
        List<Proc> p = sys.startOverlay(popCpus, edgeCpus, edgeDialPort);
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        for (Systems.Proxy pop : List.of(Systems.TITAN_OVERLAY, Systems.TITAN_OVERLAY_0RTT_OFF)) {
            while (true) {
                try {
                    firstByte(pop.httpPort(), Systems.BACKEND);
                    break;
                } catch (IOException e) {
                    if (System.nanoTime() > end) {
                        throw new IllegalStateException("the overlay through " + pop.name() + " did not come up: " + e.getMessage(), e);
                    }
                    Thread.sleep(200);
                }
            }
        }
        return p;
    }

    /**
     * Time to first byte with a PoP↔edge round trip injected (a delay relay of {@code rttMs / 2} each
     * way in front of each PoP's edge port): a SOCKS5 login and CONNECT to the backend, then the first
     * flight (an HTTP request: the client speaks first, as with a TLS ClientHello) and the first byte
     * of the answer, one connection at a time, through the PoP with 0-RTT and through the same path
     * with 0-RTT off. 0-RTT should save one round trip: {@code rtt_saved_fraction} is the median
     * saving over the injected round trip.
     */
    void ttfb(int r, int secs, int rttMs) throws Exception {
        Duration oneWay = Duration.ofMillis(rttMs / 2);
        try (DelayRelay a = new DelayRelay(new InetSocketAddress("127.0.0.1", Systems.POP_EDGES_DELAYED),
                new InetSocketAddress("127.0.0.1", Systems.POP_EDGES), oneWay);
             DelayRelay b = new DelayRelay(new InetSocketAddress("127.0.0.2", Systems.POP_EDGES_DELAYED),
                     new InetSocketAddress("127.0.0.2", Systems.POP_EDGES), oneWay)) {
            List<Proc> procs = overlay(sys.proxyCpus, Systems.POP_EDGES_DELAYED);
            Map<String, Double> medians = new LinkedHashMap<>();
            try {
                for (int i = 0; i < 20; i++) { // warm both paths
                    firstByte(Systems.TITAN_OVERLAY.httpPort(), Systems.BACKEND);
                    firstByte(Systems.TITAN_OVERLAY_0RTT_OFF.httpPort(), Systems.BACKEND);
                }
                bench.measureRounds("overlay-ttfb", List.of(Systems.TITAN_OVERLAY, Systems.TITAN_OVERLAY_0RTT_OFF), r, secs, (p, d) -> {
                    List<Double> ms = new ArrayList<>();
                    long end = System.nanoTime() + Duration.ofSeconds(d).toNanos();
                    while (System.nanoTime() < end && ms.size() < 10_000) {
                        ms.add(firstByte(p.httpPort(), Systems.BACKEND) / 1e6);
                    }
                    double[] sorted = ms.stream().mapToDouble(Double::doubleValue).sorted().toArray();
                    Map<String, Double> v = new LinkedHashMap<>();
                    v.put("ttfb_p50_ms", sorted[sorted.length / 2]);
                    v.put("ttfb_p90_ms", sorted[(int) (sorted.length * 0.9)]);
                    v.put("injected_rtt_ms", (double) rttMs);
                    medians.put(p.name(), sorted[sorted.length / 2]);
                    return v;
                });
                Double on = medians.get(Systems.TITAN_OVERLAY.name());
                Double off = medians.get(Systems.TITAN_OVERLAY_0RTT_OFF.name());
                if (on != null && off != null) {
                    double saved = (off - on) / rttMs;
                    bench.results.add("overlay-ttfb", "rtt_saved_fraction", Systems.TITAN_OVERLAY.name(), saved);
                    System.out.printf("  0-RTT saved %.1f ms of a %d ms round trip (%.2f of it)%n", off - on, rttMs, saved);
                }
            } finally {
                procs.forEach(sys::stop);
            }
        }
    }

    /** Nanoseconds from connecting to a PoP's SOCKS5 port to the first byte of the backend's answer. */
    static long firstByte(int socksPort, int targetPort) throws IOException {
        long t0 = System.nanoTime();
        try (Socket s = new Socket("127.0.0.1", socksPort)) {
            s.setTcpNoDelay(true);
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            DataInputStream in = new DataInputStream(s.getInputStream());
            out.write(new byte[] {5, 1, 2});
            expect(in, new byte[] {5, 2}, "method");
            byte[] user = Systems.OVERLAY_USER.getBytes(StandardCharsets.US_ASCII);
            byte[] pass = Systems.OVERLAY_PASSWORD.getBytes(StandardCharsets.US_ASCII);
            byte[] login = new byte[3 + user.length + pass.length];
            login[0] = 1;
            login[1] = (byte) user.length;
            System.arraycopy(user, 0, login, 2, user.length);
            login[2 + user.length] = (byte) pass.length;
            System.arraycopy(pass, 0, login, 3 + user.length, pass.length);
            out.write(login);
            expect(in, new byte[] {1, 0}, "login");
            out.write(new byte[] {5, 1, 0, 1, 127, 0, 0, 1, (byte) (targetPort >> 8), (byte) targetPort});
            byte[] reply = in.readNBytes(10);
            if (reply.length < 10 || reply[1] != 0) {
                throw new IOException("SOCKS5 CONNECT refused: " + Arrays.toString(reply));
            }
            out.write(("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            if (in.read() < 0) {
                throw new IOException("closed before the first byte");
            }
            return System.nanoTime() - t0;
        }
    }

    private static void expect(DataInputStream in, byte[] want, String what) throws IOException {
        byte[] got = in.readNBytes(want.length);
        if (!Arrays.equals(got, want)) {
            throw new IOException("SOCKS5 " + what + ": expected " + Arrays.toString(want) + ", got " + Arrays.toString(got));
        }
    }
}
