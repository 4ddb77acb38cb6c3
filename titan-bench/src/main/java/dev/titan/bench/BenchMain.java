package dev.titan.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.titan.core.net.Transport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The side-by-side benchmark runner behind {@code bench/run}: starts Titan and its peers under the
 * same conditions on loopback, measures each scenario in alternating rounds, and prints the
 * medians, their spread and Titan's ratio to each peer.
 */
@Command(name = "bench/run", mixinStandardHelpOptions = true, description = {
        "Benchmark Titan against HAProxy (mode tcp) and nginx (stream) on loopback, side by side.",
        "Scenarios: validate l4-rps l4-connrate l4-throughput l4-latency l4-concurrency startup tunnel-rps tunnel-rps-unpinned tunnel-throughput",
        "tunnel-throughput-apart tunnel-concurrency proxy-clients (default: all)."})
public final class BenchMain implements Callable<Integer> {
    static final List<String> ALL = List.of("validate", "l4-rps", "l4-connrate", "l4-throughput", "l4-latency", "l4-concurrency", "startup",
            "tunnel-rps", "tunnel-rps-unpinned", "tunnel-throughput", "tunnel-throughput-apart", "tunnel-concurrency", "proxy-clients",
            "overlay-connrate", "overlay-ttfb", "overlay-throughput", "overlay-open-under-load", "overlay-concurrency");

    @Parameters(arity = "0..*", description = "Scenarios to run.")
    List<String> scenarios = new ArrayList<>();

    @Option(names = "--quick", description = "A few seconds per scenario: proves each scenario works (CI), not a measurement.")
    boolean quick;

    boolean quick() {
        return quick;
    }

    @Option(names = "--threads", defaultValue = "1", description = "Worker threads of every proxy (default ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--rounds", description = "Alternating rounds per scenario (default 3, quick 1).")
    Integer rounds;

    @Option(names = "--seconds", description = "Seconds per measurement (default 10, quick 2).")
    Integer seconds;

    @Option(names = "--rate", defaultValue = "5000", description = "Offered rate of l4-latency, requests/s (default ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--titan-transport", defaultValue = "auto",
            description = "Titan's transport.type: auto (its default), epoll, io_uring or nio (default ${DEFAULT-VALUE}).")
    String titanTransport;

    @Option(names = "--titan-jar", defaultValue = "titan-app/target/titan.jar")
    Path titanJar;

    @Option(names = "--titan-aot-cache", description = "An AOT cache recorded for --titan-jar and this JDK (bench/run passes the one ./titan uses).")
    Path titanAotCache;

    @Option(names = "--out", defaultValue = "bench/results", description = "Where JSON results go.")
    Path out;

    @Option(names = "--docs", description = "Update this markdown file (default docs/benchmarks.md unless --quick or --systems).")
    Path docs;

    @Option(names = "--systems", split = ",", description = "Measure only these systems of each scenario (e.g. titan-overlay-by-source,microsocks), "
            + "to compare two builds quickly; the published page needs every system, so only --docs is written.")
    Set<String> systems;

    final Results results = new Results();

    public static void main(String[] args) {
        System.exit(new CommandLine(new BenchMain()).execute(args));
    }

    @Option(names = "--report-only", description = "Rewrite docs/benchmarks.md and the charts from docs/bench/latest.json; run nothing.")
    boolean reportOnly;

    @Override
    @SuppressWarnings("unchecked")
    public Integer call() throws Exception {
        if (reportOnly) {
            Path md = docs != null ? docs : Path.of("docs/benchmarks.md");
            Path latest = md.toAbsolutePath().getParent().resolve("bench").resolve("latest.json");
            Map<String, Object> doc = JSON.readValue(latest.toFile(), Map.class);
            JSON.readTree(latest.toFile()).path("results").fields().forEachRemaining(sc -> sc.getValue().fields().forEachRemaining(
                    metric -> metric.getValue().fields().forEachRemaining(sys -> sys.getValue().path("samples").forEach(
                            v -> results.add(sc.getKey(), metric.getKey(), sys.getKey(), v.asDouble())))));
            Report.update(md, doc, results);
            System.out.println("updated " + md + " from " + latest);
            return 0;
        }
        List<String> run = scenarios.isEmpty() ? ALL : scenarios;
        for (String s : run) {
            if (!ALL.contains(s)) {
                System.err.println("unknown scenario " + s + " (known: " + String.join(" ", ALL) + ")");
                return 2;
            }
        }
        List<Integer> busy = Systems.busyPorts();
        if (!busy.isEmpty()) {
            System.err.println("bench/run: port(s) " + busy + " on 127.0.0.1 are in use (a process left from an earlier run or experiment?); "
                    + "the benchmark needs them free: stop that process and run again");
            return 2;
        }
        int r = rounds != null ? rounds : quick ? 1 : 3;
        int secs = seconds != null ? seconds : quick ? 2 : 10;
        Path dir = Files.createTempDirectory("titan-bench");
        Systems sys = new Systems(dir, threads, titanJar.toAbsolutePath(),
                titanAotCache == null ? null : titanAotCache.toAbsolutePath(), titanTransport);
        pinSelf(sys.loadCpus);
        Map<String, String> machine = machine(sys);
        System.out.printf("machine: %s; proxies pinned to CPUs %s with %d thread(s), load and backend on %s%n",
                machine.get("cpu"), sys.proxyCpus, threads, sys.loadCpus);
        long t0 = System.nanoTime();
        // stopped by a signal (Ctrl-C, kill), the run still stops what it started
        Thread stopSystems = new Thread(sys::close, "stop-systems");
        Runtime.getRuntime().addShutdownHook(stopSystems);
        try (sys; LoadGen gen = new LoadGen(1)) {
            sys.startBackend();
            for (String s : run) {
                System.out.println("\n== " + s + " ==");
                try {
                    runScenario(s, sys, gen, r, secs);
                } catch (Exception e) {
                    // one broken scenario must not lose the others' results
                    failed.add(s);
                    System.out.println("  scenario " + s + " failed: " + e);
                }
                results.print(s);
            }
        }
        if (!failed.isEmpty()) {
            System.out.println("\nfailed scenarios: " + failed);
        }
        writeResults(t0, r, secs, machine);
        return failed.isEmpty() ? 0 : 1;
    }

    private final List<String> failed = new ArrayList<>();

    private void runScenario(String s, Systems sys, LoadGen gen, int r, int secs) throws Exception {
        switch (s) {
            case "validate" -> new GeneratorValidation(this, sys).run(gen, r, secs);
            case "l4-rps" -> rounds(sys, "l4-rps", r, secs, false, (p, d) -> wrk(sys, p, 100, d, false));
            case "l4-connrate" -> connectionRate(sys, r, secs);
            case "l4-throughput" -> throughput(sys, r, secs);
            case "l4-latency" -> rounds(sys, "l4-latency", r, secs, false, (p, d) -> latency(gen, p, d));
            case "l4-concurrency" -> new IdleConnections(this, sys).run(gen, quick ? List.of(2_000) : IdleConnections.counts());
            case "startup" -> new ColdStart(this, sys).run(r, quick ? 2 : 10);
            case "tunnel-rps" -> new TunnelScenarios(this, sys).rps(r, secs);
            case "tunnel-rps-unpinned" -> new TunnelScenarios(this, sys).rpsUnpinned(r, secs);
            case "tunnel-throughput" -> new TunnelScenarios(this, sys).throughput("tunnel-throughput", sys.proxyCpus, r, secs);
            case "tunnel-throughput-apart" -> new TunnelScenarios(this, sys).throughput("tunnel-throughput-apart", sys.loadCpus, r, secs);
            case "proxy-clients" -> new TunnelScenarios(this, sys).proxyClients(gen, r, secs);
            case "tunnel-concurrency" -> new TunnelScenarios(this, sys).concurrency(gen, quick ? 1_000 : 10_000);
            case "overlay-connrate" -> new OverlayScenarios(this, sys).connrate(gen, r, secs);
            case "overlay-ttfb" -> new OverlayScenarios(this, sys).ttfb(r, secs, 40);
            case "overlay-throughput" -> new OverlayScenarios(this, sys).throughput(r, secs);
            case "overlay-open-under-load" -> new OverlayScenarios(this, sys).openUnderLoad(r, secs);
            case "overlay-concurrency" -> new OverlayScenarios(this, sys).concurrency(gen, quick ? 1_000 : 10_000);
            default -> throw new IllegalStateException(s);
        }
    }

    private void writeResults(long t0, int r, int secs, Map<String, String> machine) throws Exception {
        double total = (System.nanoTime() - t0) / 1e9;
        Files.createDirectories(out);
        String stamp = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").format(ZonedDateTime.now());
        Path json = out.resolve("bench-" + stamp + (quick ? "-quick" : "") + ".json");
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("date", ZonedDateTime.now().toString());
        doc.put("quick", quick);
        doc.put("threads", threads);
        doc.put("rounds", r);
        doc.put("seconds", secs);
        doc.put("machine", machine);
        doc.put("results", results.asMap());
        om.writeValue(json.toFile(), doc);
        System.out.printf("%nresults: %s (%.0f s)%n", json, total);
        Path md = docs != null ? docs : quick || systems != null ? null : Path.of("docs/benchmarks.md");
        if (md != null) {
            doc.put("carried_over", carryOver(md.toAbsolutePath().getParent().resolve("bench").resolve("latest.json")));
            doc.put("results", results.asMap()); // with the carried-over scenarios, so that the next partial run keeps them too
            Report.update(md, doc, results);
            System.out.println("updated " + md);
        }
    }

    /**
     * A run of some scenarios keeps the published figures of the others: their samples are taken
     * over from the previous results and marked with the date of the run that measured them.
     */
    @SuppressWarnings("unchecked")
    private Map<String, String> carryOver(Path previous) throws IOException {
        Map<String, String> carried = new LinkedHashMap<>();
        if (!Files.exists(previous)) {
            return carried;
        }
        JsonNode old = JSON.readTree(previous.toFile());
        Map<String, String> before = old.has("carried_over")
                ? JSON.convertValue(old.get("carried_over"), Map.class) : Map.of();
        old.path("results").fields().forEachRemaining(sc -> {
            if (results.raw().containsKey(sc.getKey())) {
                return;
            }
            carried.put(sc.getKey(), before.getOrDefault(sc.getKey(), old.path("date").asText()));
            sc.getValue().fields().forEachRemaining(metric -> metric.getValue().fields().forEachRemaining(sys ->
                    sys.getValue().path("samples").forEach(v -> results.add(sc.getKey(), metric.getKey(), sys.getKey(), v.asDouble()))));
        });
        return carried;
    }

    /** One measurement of one system: metric name to value. */
    @FunctionalInterface
    interface Measure {
        Map<String, Double> run(Systems.Proxy proxy, int seconds) throws Exception;
    }

    private static final List<Systems.Proxy> PROXIES = List.of(Systems.TITAN, Systems.HAPROXY, Systems.NGINX);

    /** Done before a measurement and outside it: not in the time or CPU the measurement records. */
    interface Prepare {
        void run(Systems.Proxy proxy) throws Exception;
    }

    /** Starts every proxy, warms each up, then measures all of them in {@code r} rounds, rotating the order. */
    private void rounds(Systems sys, String scenario, int r, int secs, boolean skipDirect, Measure m) throws Exception {
        rounds(sys, scenario, r, secs, skipDirect, p -> { }, m);
    }

    private void rounds(Systems sys, String scenario, int r, int secs, boolean skipDirect, Prepare before, Measure m) throws Exception {
        List<Systems.Proxy> all = new ArrayList<>();
        if (!skipDirect) {
            all.add(Systems.DIRECT);
        }
        all.addAll(PROXIES);
        List<Proc> procs = new ArrayList<>();
        Map<Systems.Proxy, List<Proc>> owners = new LinkedHashMap<>();
        try {
            for (Systems.Proxy p : PROXIES) {
                Proc proc = sys.start(p);
                procs.add(proc);
                owners.put(p, List.of(proc));
            }
            for (Systems.Proxy p : PROXIES) {
                churn(sys, p, quick ? 1 : 5);
            }
            if (!quick) {
                // tens of thousands of TIME_WAIT entries from the churn slowed the peers' keep-alive
                // rounds afterwards (HAProxy 36-44k req/s before, 24-29k after, direct unchanged): let them expire
                LoopbackPorts.awaitTimeWaitDrained(1_000);
            }
            settle(scenario, Systems.TITAN, L4_SETTLE_SECONDS, null, sys.loadCpus);
            measureRounds(scenario, all, r, secs, withCpu(owners, before, m));
        } finally {
            procs.forEach(sys::stop);
        }
    }

    /** Seconds of full load Titan's forwarder gets before its rounds: its JIT reaches a steady state after 20-30 s of it on one core. */
    static final int L4_SETTLE_SECONDS = 60;

    /**
     * The same for the tunnel: two JVMs on one core, each compiling the tunnel's path while it carries
     * the load; p99 came down to its steady 5-9 ms only after 90-110 s of load.
     */
    static final int TUNNEL_SETTLE_SECONDS = 120;

    /**
     * Full keep-alive load ({@code wrk -c100}) on a freshly started Titan in 10-s steps before its
     * measured rounds, so that the rounds measure the steady state a long-running Titan is in, not
     * its JIT compiler at work. Each step is recorded as the scenario {@code <scenario>-warm-up}
     * (the curve is published: how long a cold Titan takes to get there). The native peers need none:
     * they get the ordinary warm-up every system gets.
     */
    void settle(String scenario, Systems.Proxy titan, int seconds, String host, String loadCpus) throws Exception {
        if (quick) {
            return;
        }
        for (int t = 10; t <= seconds; t += 10) {
            Map<String, Double> v = Wrk.run(loadCpus, titan.httpPort(), 100, 10, false, host);
            String step = "%d-%d s ".formatted(t - 10, t);
            results.add(scenario + Report.WARM_UP, step + "req_per_s", titan.name(), v.get("req_per_s"));
            results.add(scenario + Report.WARM_UP, step + "p99_ms", titan.name(), v.get("p99_ms"));
            System.out.printf("  settle %-13s %s%s%n", titan.name(), step, v);
        }
    }

    /**
     * Adds what the system's own processes cost during a measurement: {@code proxy_cpu_pct}, their
     * CPU time as a share of one core, and {@code proxy_cpu_us_per_req} ({@code _per_conn} where a
     * request is a connection), CPU time per request. On
     * this machine the load core often limits every system alike (direct runs no faster than the
     * proxies), and then req/s alone cannot tell an efficient proxy from a wasteful one. Beside it,
     * what a proxy could change of the load core's work: {@code proxy_sleeps_per_req}, how often
     * its threads went to sleep (each time a process on the load core must wake one of them), and
     * {@code tcp_segments_per_req}, TCP segments sent by every socket of the machine (4 for a
     * proxied keep-alive request whose acknowledgements all ride on data; each pure ACK adds one).
     */
    static Measure withCpu(Map<Systems.Proxy, List<Proc>> owners, Measure m) {
        return withCpu(owners, p -> { }, m);
    }

    /** {@link #withCpu(Map, Measure)}, with {@code before} run ahead of each measurement and outside its time and CPU. */
    private static Measure withCpu(Map<Systems.Proxy, List<Proc>> owners, Prepare prepare, Measure m) {
        return (p, d) -> {
            prepare.run(p);
            List<Proc> own = owners.get(p);
            if (own == null) {
                return m.run(p, d);
            }
            long before = Proc.cpuTicks(own);
            long sleeps = Proc.sleeps(own);
            long segments = Proc.tcpSegmentsSent();
            long t0 = System.nanoTime();
            Map<String, Double> v = m.run(p, d);
            double wall = (System.nanoTime() - t0) / 1e9;
            double cpu = (Proc.cpuTicks(own) - before) / (double) Proc.TICKS_PER_SECOND;
            sleeps = Proc.sleeps(own) - sleeps;
            segments = Proc.tcpSegmentsSent() - segments;
            v.put("proxy_cpu_pct", 100 * cpu / wall);
            v.put("proxy_threads", (double) Proc.threads(own));
            boolean perConnection = v.containsKey("conn_per_s");
            Double rate = v.get(perConnection ? "conn_per_s" : "req_per_s");
            if (rate != null && rate > 0) {
                String per = perConnection ? "_per_conn" : "_per_req";
                double n = rate * d;
                v.put("proxy_cpu_us" + per, cpu * 1e6 / n);
                v.put("proxy_sleeps" + per, sleeps / n);
                v.put("tcp_segments" + per, segments / n);
            }
            return v;
        };
    }

    /** Warms every system up with the measurement itself (not recorded), then {@code r} rounds in rotating order. */
    void measureRounds(String scenario, List<Systems.Proxy> listed, int r, int secs, Measure m) throws Exception {
        List<Systems.Proxy> all = systems == null ? listed : listed.stream().filter(p -> systems.contains(p.name())).toList();
        for (Systems.Proxy p : all) {
            m.run(p, quick ? 1 : 10); // warm-up (JIT, pools, caches), not recorded
        }
        for (int round = 0; round < r; round++) {
            List<Systems.Proxy> order = new ArrayList<>(all);
            Collections.rotate(order, round);
            for (Systems.Proxy p : order) {
                Map<String, Double> v = m.run(p, secs);
                v.forEach((metric, value) -> results.add(scenario, metric, p.name(), value));
                System.out.printf("  round %d %-13s %s%n", round + 1, p.name(), v);
            }
        }
    }

    /**
     * Warm-up with a new connection per request, for every proxy alike: a proxy that has run for a
     * while has set up thousands of connections, and a JIT-compiled runtime (Titan) is only at its
     * steady state once its connection-setup path is compiled too. Measured without it, each
     * keep-alive round began with 100 connections set up by interpreted code: up to 200 ms for the
     * first requests, which decided p99. Ports are widened as in l4-connrate and restored.
     */
    private void churn(Systems sys, Systems.Proxy p, int secs) throws Exception {
        try (LoopbackPorts.WidePorts ports = LoopbackPorts.WidePorts.widen()) {
            Map<String, Double> v = wrk(sys, p, 10, secs, true);
            System.out.printf("  warm-up %-13s %.0f new connections/s%n", p.name(), v.get("conn_per_s"));
        }
    }

    // ------------------------------------------------------------------ wrk

    Map<String, Double> wrk(Systems sys, Systems.Proxy p, int connections, int secs, boolean close) throws Exception {
        return wrk(sys, p, connections, secs, close, null);
    }

    Map<String, Double> wrk(Systems sys, Systems.Proxy p, int connections, int secs, boolean close, String host) throws Exception {
        return Wrk.run(sys.loadCpus, p.httpPort(), connections, secs, close, host);
    }

    /**
     * New connection per request. Every connection leaves a TIME_WAIT entry for 60 s, and on loopback
     * a proxy's upstream connections all compete for one ephemeral port range: a table full of them
     * makes connect() slow for whoever is measured next. So each measurement starts with the table
     * drained, lasts at most 4 s, and the port range is widened for the scenario where allowed.
     */
    private void connectionRate(Systems sys, int r, int secs) throws Exception {
        try (LoopbackPorts.WidePorts ports = LoopbackPorts.WidePorts.widen()) {
            // the wait for the TIME_WAIT table is outside the measurement: it once counted in the
            // wall time the CPU share was taken over, and made HAProxy's 93% of a core read 6%
            rounds(sys, "l4-connrate", r, Math.min(secs, 4), false, p -> {
                if (!quick) { // --quick proves the scenario runs; its few seconds of connections fit the widened range
                    LoopbackPorts.awaitTimeWaitDrained(20_000); // of the widened range's 45,000 ports
                }
            }, (p, d) -> wrk(sys, p, 50, d, true));
        }
    }

    // ------------------------------------------------------------------ iperf3

    private void throughput(Systems sys, int r, int secs) throws Exception {
        Proc iperf = sys.startIperfServer();
        try {
            rounds(sys, "l4-throughput", r, secs, false, (p, d) -> {
                Map<String, Double> v = new LinkedHashMap<>();
                v.put("gbit_1_stream", iperf(sys, p, 1, d));
                v.put("gbit_4_streams", iperf(sys, p, 4, d));
                return v;
            });
        } finally {
            sys.stop(iperf);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    double iperf(Systems sys, Systems.Proxy p, int streams, int secs) throws Exception {
        return iperf(sys, p, p.iperfPort(), List.of(), streams, secs);
    }

    /** iperf3 to {@code port}, its command after {@code prefix} (e.g. proxychains4 and its configuration, for a SOCKS5 proxy). */
    double iperf(Systems sys, Systems.Proxy p, int port, List<String> prefix, int streams, int secs) throws Exception {
        List<String> cmd = new ArrayList<>();
        if (sys.loadCpus != null) {
            cmd.addAll(List.of("taskset", "-c", sys.loadCpus));
        }
        cmd.addAll(prefix);
        cmd.addAll(List.of("iperf3", "-c", "127.0.0.1", "-p", Integer.toString(port), "-t", Integer.toString(secs),
                "-P", Integer.toString(streams), "-J"));
        String text = Proc.run(cmd, secs + 60L);
        int json = text.indexOf('{'); // iperf3 may print a WARNING line before its JSON
        if (json > 0) {
            System.out.println("  iperf3 via " + p.name() + ": " + text.substring(0, json).trim());
        }
        JsonNode root = JSON.readTree(json >= 0 ? text.substring(json) : text);
        if (root.has("error")) {
            throw new IllegalStateException("iperf3 via " + p.name() + ": " + root.get("error").asText());
        }
        Thread.sleep(300); // the iperf3 server takes a moment to accept the next test
        return root.path("end").path("sum_received").path("bits_per_second").asDouble() / 1e9;
    }

    // ------------------------------------------------------------------ open-loop latency

    private Map<String, Double> latency(LoadGen gen, Systems.Proxy p, int secs) throws Exception {
        int offered = quick ? Math.min(rate, 1000) : rate;
        LoadGen.Result res = gen.openLoop(new InetSocketAddress("127.0.0.1", p.httpPort()), 50, offered, Duration.ofSeconds(secs));
        Map<String, Double> v = new LinkedHashMap<>();
        v.put("p50_ms", res.p50Us() / 1000);
        v.put("p99_ms", res.p99Us() / 1000);
        v.put("p999_ms", res.p999Us() / 1000);
        v.put("achieved_per_s", res.rps());
        return v;
    }

    // ------------------------------------------------------------------ machine

    static void pinSelf(String cpus) {
        if (cpus != null) {
            Proc.runQuiet(List.of("taskset", "-a", "-p", "-c", cpus, Long.toString(ProcessHandle.current().pid())));
        }
    }

    private Map<String, String> machine(Systems sys) {
        Map<String, String> m = new LinkedHashMap<>();
        String cpu = Proc.runQuiet(List.of("sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"));
        m.put("cpu", cpu.trim() + ", " + Proc.runQuiet(List.of("nproc", "--all")) + " cores");
        m.put("memory", Proc.runQuiet(List.of("sh", "-c", "free -g | awk '/Mem:/{print $2\" GiB\"}'")));
        m.put("kernel", Proc.runQuiet(List.of("uname", "-r")));
        m.put("jdk", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        m.put("haproxy", Proc.runQuiet(List.of("sh", "-c", "haproxy -v | head -1")));
        m.put("nginx", Proc.runQuiet(List.of("sh", "-c", "nginx -v 2>&1")));
        m.put("wrk", Proc.runQuiet(List.of("sh", "-c", "wrk --version 2>&1 | head -1")));
        m.put("iperf3", Proc.runQuiet(List.of("sh", "-c", "iperf3 --version | head -1")));
        m.put("titan_jar", titanJar.toString());
        m.put("titan_aot_cache", titanAotCache == null ? "none" : "yes (recorded by `titan aot-training`)");
        m.put("titan_transport", titanTransport.equals("auto")
                ? "auto (" + Transport.kindFor("auto").name().toLowerCase(Locale.ROOT) + ")" : titanTransport);
        m.put("pinning", "proxy CPUs " + sys.proxyCpus + ", load generator and backend CPUs " + sys.loadCpus);
        return m;
    }
}
