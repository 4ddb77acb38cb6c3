package dev.titan.bench;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** The {@code validate} scenario: Titan's load generator checked against wrk and Little's law. */
final class GeneratorValidation {
    private final BenchMain bench;
    private final Systems sys;

    GeneratorValidation(BenchMain bench, Systems sys) {
        this.bench = bench;
        this.sys = sys;
    }

    /**
     * Titan's load generator against wrk on direct nginx, closed loop, 10 and 100 connections, on
     * two backends: the benchmarks' own, as fast per request as either generator (so both it and
     * the generator run at their limit), and {@link Systems#SLOW_BACKEND}, about a third as fast,
     * which alone limits the run. Both generators run on the proxy cores (idle in this scenario),
     * so that neither competes with nginx for its core; the generator runs twice a round, with its
     * own clock and with wrk's.
     */
    void run(LoadGen gen, int r, int secs) throws Exception {
        String genCpus = sys.proxyCpus != null ? sys.proxyCpus : sys.loadCpus;
        BenchMain.pinSelf(genCpus);
        try {
            for (Systems.Proxy backend : List.of(Systems.DIRECT, Systems.SLOW_DIRECT)) {
                InetSocketAddress direct = new InetSocketAddress("127.0.0.1", backend.httpPort());
                String suffix = (backend == Systems.SLOW_DIRECT ? "_slow" : "") + "_c";
                for (int conns : List.of(10, 100)) {
                    Wrk.run(genCpus, backend.httpPort(), conns, bench.quick() ? 1 : 3, false, null);
                    gen.closedLoop(direct, conns, Duration.ofSeconds(bench.quick() ? 1 : 3));
                    for (int round = 0; round < r; round++) {
                        Map<String, Double> w = Wrk.run(genCpus, backend.httpPort(), conns, secs, false, null);
                        LoadGen.Result g = gen.closedLoop(direct, conns, Duration.ofSeconds(secs));
                        LoadGen.Result gw = gen.closedLoop(direct, null, conns, Duration.ofSeconds(secs), true);
                        String c = suffix + conns;
                        addValidation(c, conns, "wrk", w.get("req_per_s"), w.get("mean_ms"), w.get("p50_ms"), w.get("p99_ms"));
                        addValidation(c, conns, "titan-loadgen", g.rps(), g.meanUs() / 1000, g.p50Us() / 1000, g.p99Us() / 1000);
                        addValidation(c, conns, "titan-loadgen-wrk-clock", gw.rps(), gw.meanUs() / 1000, gw.p50Us() / 1000, gw.p99Us() / 1000);
                        System.out.printf("  %s, %d connections, round %d: wrk %.0f req/s mean %.3f p50 %.3f p99 %.3f ms"
                                        + " | titan-loadgen %.0f req/s mean %.3f p50 %.3f p99 %.3f ms"
                                        + " | with wrk's clock %.0f req/s mean %.3f p50 %.3f p99 %.3f ms%n",
                                backend.name(), conns, round + 1, w.get("req_per_s"), w.get("mean_ms"), w.get("p50_ms"), w.get("p99_ms"), g.rps(),
                                g.meanUs() / 1000, g.p50Us() / 1000, g.p99Us() / 1000, gw.rps(), gw.meanUs() / 1000, gw.p50Us() / 1000,
                                gw.p99Us() / 1000);
                    }
                }
            }
        } finally {
            BenchMain.pinSelf(sys.loadCpus);
        }
    }

    private void addValidation(String suffix, int conns, String system, double rps, double meanMs, double p50Ms, double p99Ms) {
        bench.results.add("validate", "req_per_s" + suffix, system, rps);
        bench.results.add("validate", "mean_ms" + suffix, system, meanMs);
        // Little's law: every connection always busy, so the mean time per request is connections / throughput
        bench.results.add("validate", "littles_law_ms" + suffix, system, conns * 1000 / rps);
        bench.results.add("validate", "p50_ms" + suffix, system, p50Ms);
        bench.results.add("validate", "p99_ms" + suffix, system, p99Ms);
    }
}
