package dev.titan.bench;

import java.util.List;
import java.util.Map;

/**
 * The {@code startup} scenario: each system started fresh, the time to its first forwarded
 * request, its idle RSS one second later, then what it serves in its first 10 s of full
 * keep-alive load ({@code wrk -c100}), before any JIT warm-up: the forwarder beside HAProxy and
 * nginx, and the reverse tunnel (server and client started together) beside {@code ssh -R}. The
 * steady-state rates to compare with are the other scenarios'.
 */
final class ColdStart {
    private final BenchMain bench;
    private final Systems sys;

    ColdStart(BenchMain bench, Systems sys) {
        this.bench = bench;
        this.sys = sys;
    }

    void run(int rounds, int loadSeconds) throws Exception {
        for (int round = 0; round < rounds; round++) {
            for (Systems.Proxy p : List.of(Systems.TITAN, Systems.HAPROXY, Systems.NGINX)) {
                long t0 = System.nanoTime();
                Proc proc = sys.start(p);
                try {
                    Probe.awaitHttp(p.httpPort(), "b", 60_000);
                    record(round, p.name(), (System.nanoTime() - t0) / 1e6, List.of(proc), p, null, loadSeconds);
                } finally {
                    sys.stop(proc);
                }
            }
            for (Systems.Proxy p : List.of(Systems.TITAN_TUNNEL, Systems.SSH_R)) {
                long t0 = System.nanoTime();
                List<Proc> procs = p == Systems.TITAN_TUNNEL ? sys.startTitanTunnel() : sys.startSshTunnel();
                String host = p == Systems.TITAN_TUNNEL ? Systems.TUNNEL_HOST : "b";
                try {
                    Probe.awaitHttp(p.httpPort(), host, 60_000);
                    record(round, p.name(), (System.nanoTime() - t0) / 1e6, procs, p, host, loadSeconds);
                } finally {
                    procs.forEach(sys::stop);
                }
            }
            LoopbackPorts.awaitTimeWaitDrained(1_000);
        }
    }

    private void record(int round, String system, double firstMs, List<Proc> procs, Systems.Proxy p, String host, int loadSeconds)
            throws Exception {
        Thread.sleep(1000);
        double rss = procs.stream().mapToLong(Proc::rssKib).sum() / 1024.0;
        Map<String, Double> cold = Wrk.run(sys.loadCpus, p.httpPort(), 100, loadSeconds, false, host);
        bench.results.add("startup", "first_forward_ms", system, firstMs);
        bench.results.add("startup", "idle_rss_mib", system, rss);
        bench.results.add("startup", "first_10s_req_per_s", system, cold.get("req_per_s"));
        bench.results.add("startup", "first_10s_p99_ms", system, cold.get("p99_ms"));
        System.out.printf("  round %d %-13s first forwarded request after %.0f ms, idle RSS %.1f MiB, first %d s of load: %.0f req/s, p99 %.2f ms%n",
                round + 1, system, firstMs, rss, loadSeconds, cold.get("req_per_s"), cold.get("p99_ms"));
    }
}
