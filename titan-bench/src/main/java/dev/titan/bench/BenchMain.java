package dev.titan.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.titan.core.net.Transport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
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
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
        "Scenarios: validate l4-rps l4-connrate l4-throughput l4-latency l4-concurrency startup tunnel-rps tunnel-throughput",
        "tunnel-throughput-apart tunnel-concurrency proxy-clients (default: all)."})
public final class BenchMain implements Callable<Integer> {
    static final List<String> ALL = List.of("validate", "l4-rps", "l4-connrate", "l4-throughput", "l4-latency", "l4-concurrency", "startup",
            "tunnel-rps", "tunnel-throughput", "tunnel-throughput-apart", "tunnel-concurrency", "proxy-clients");

    @Parameters(arity = "0..*", description = "Scenarios to run.")
    List<String> scenarios = new ArrayList<>();

    @Option(names = "--quick", description = "A few seconds per scenario: proves each scenario works (CI), not a measurement.")
    boolean quick;

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

    @Option(names = "--docs", description = "Update this markdown file (default docs/benchmarks.md unless --quick).")
    Path docs;

    private final Results results = new Results();

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
            case "validate" -> validate(sys, gen, r, secs);
            case "l4-rps" -> rounds(sys, "l4-rps", r, secs, false, (p, d) -> wrk(sys, p, 100, d, false));
            case "l4-connrate" -> connectionRate(sys, r, secs);
            case "l4-throughput" -> throughput(sys, r, secs);
            case "l4-latency" -> rounds(sys, "l4-latency", r, secs, false, (p, d) -> latency(gen, p, d));
            case "l4-concurrency" -> concurrency(sys, gen, quick ? List.of(2_000) : concurrencyCounts());
            case "startup" -> startup(sys, r);
            case "tunnel-rps" -> tunnelRps(sys, r, secs);
            case "tunnel-throughput" -> tunnelThroughput(sys, "tunnel-throughput", sys.proxyCpus, r, secs);
            case "tunnel-throughput-apart" -> tunnelThroughput(sys, "tunnel-throughput-apart", sys.loadCpus, r, secs);
            case "proxy-clients" -> proxyClients(sys, gen, r, secs);
            case "tunnel-concurrency" -> tunnelConcurrency(sys, gen, quick ? 1_000 : 10_000);
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
        Path md = docs != null ? docs : quick ? null : Path.of("docs/benchmarks.md");
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
                awaitTimeWaitDrained(1_000);
            }
            settle(sys, scenario, Systems.TITAN, L4_SETTLE_SECONDS, null);
            measureRounds(scenario, all, r, secs, withCpu(owners, before, m));
        } finally {
            procs.forEach(sys::stop);
        }
    }

    /** Seconds of full load Titan's forwarder gets before its rounds: its JIT reaches a steady state after 20-30 s of it on one core. */
    static final int L4_SETTLE_SECONDS = 60;

    /**
     * The same for the tunnel: two JVMs on one core, each compiling the HTTP/2 path while it carries
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
    private void settle(Systems sys, String scenario, Systems.Proxy titan, int seconds, String host) throws Exception {
        if (quick) {
            return;
        }
        for (int t = 10; t <= seconds; t += 10) {
            Map<String, Double> v = wrk(sys, titan, 100, 10, false, host);
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
    private static Measure withCpu(Map<Systems.Proxy, List<Proc>> owners, Measure m) {
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
    private void measureRounds(String scenario, List<Systems.Proxy> all, int r, int secs, Measure m) throws Exception {
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
     * Keep-alive requests to the backend directly, through Titan's reverse tunnel (server and client
     * both on the proxy cores, HTTP by Host on the tunnel port) and through {@code ssh -R}.
     */
    private void tunnelRps(Systems sys, int r, int secs) throws Exception {
        List<Proc> procs = new ArrayList<>();
        Map<Systems.Proxy, List<Proc>> owners = new LinkedHashMap<>();
        try {
            owners.put(Systems.TITAN_TUNNEL, sys.startTitanTunnel());
            owners.put(Systems.SSH_R, sys.startSshTunnel());
            owners.values().forEach(procs::addAll);
            awaitHttp(Systems.TITAN_TUNNEL.httpPort(), Systems.TUNNEL_HOST);
            if (!quick) {
                wrk(sys, Systems.TITAN_TUNNEL, 10, 5, true, Systems.TUNNEL_HOST); // connection path warm-up, as for the L4 proxies
                awaitTimeWaitDrained(1_000);
            }
            settle(sys, "tunnel-rps", Systems.TITAN_TUNNEL, TUNNEL_SETTLE_SECONDS, Systems.TUNNEL_HOST);
            measureRounds("tunnel-rps", List.of(Systems.DIRECT, Systems.TITAN_TUNNEL, Systems.SSH_R), r, secs,
                    withCpu(owners, (p, d) -> wrk(sys, p, 100, d, false, p == Systems.TITAN_TUNNEL ? Systems.TUNNEL_HOST : null)));
        } finally {
            procs.forEach(sys::stop);
        }
    }

    /**
     * The load generator's SOCKS5 and HTTP CONNECT clients, through the peers the overlay will be
     * compared with (microsocks, tinyproxy) and directly: closed loop, 100 keep-alive connections.
     * Proves the clients work and records the peers' figures as a baseline.
     */
    private void proxyClients(Systems sys, LoadGen gen, int r, int secs) throws Exception {
        List<Proc> procs = new ArrayList<>(sys.startForwardProxies());
        InetSocketAddress backend = new InetSocketAddress("127.0.0.1", Systems.BACKEND);
        try {
            measureRounds("proxy-clients", List.of(Systems.DIRECT, Systems.MICROSOCKS, Systems.TINYPROXY), r, secs, (p, d) -> {
                LoadGen.Via via = p == Systems.MICROSOCKS ? new LoadGen.Via("socks5", new InetSocketAddress("127.0.0.1", p.httpPort()))
                        : p == Systems.TINYPROXY ? new LoadGen.Via("http", new InetSocketAddress("127.0.0.1", p.httpPort())) : null;
                LoadGen.Result g = gen.closedLoop(backend, via, 100, Duration.ofSeconds(d));
                Map<String, Double> v = new LinkedHashMap<>();
                v.put("req_per_s", g.rps());
                v.put("p50_ms", g.p50Us() / 1000);
                v.put("p99_ms", g.p99Us() / 1000);
                v.put("errors", (double) g.errors());
                return v;
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
    private void tunnelThroughput(Systems sys, String scenario, String clientCpus, int r, int secs) throws Exception {
        List<Proc> procs = new ArrayList<>();
        procs.add(sys.startIperfServer());
        try {
            procs.addAll(sys.startTitanTunnel(clientCpus));
            procs.addAll(sys.startSshTunnel(clientCpus));
            measureRounds(scenario, List.of(Systems.DIRECT, Systems.TITAN_TUNNEL, Systems.SSH_R), r, secs, (p, d) -> {
                Map<String, Double> v = new LinkedHashMap<>();
                v.put("gbit_1_stream", iperf(sys, p, 1, d));
                v.put("gbit_4_streams", iperf(sys, p, 4, d));
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
    private void tunnelConcurrency(Systems sys, LoadGen gen, int n) throws Exception {
        List<InetSocketAddress> sources = new ArrayList<>();
        for (int i = 1; i <= 8; i++) {
            sources.add(new InetSocketAddress(InetAddress.getByName("127.0.0." + i), 0));
        }
        for (String system : List.of("titan-tunnel", "ssh-R")) {
            List<Proc> procs = system.equals("titan-tunnel") ? sys.startTitanTunnel() : sys.startSshTunnel();
            int port = system.equals("titan-tunnel") ? Systems.TITAN_TUNNEL_TCP : Systems.SSH_R_TCP;
            try {
                warmUp(port);
                Thread.sleep(1000);
                long before = procs.stream().mapToLong(Proc::rssKib).sum();
                List<io.netty.channel.Channel> conns = gen.idle(sources, new InetSocketAddress("127.0.0.1", port), n);
                Thread.sleep(quick ? 1000 : 3000);
                long after = procs.stream().mapToLong(Proc::rssKib).sum();
                double perConn = (after - before) / (double) Math.max(1, conns.size());
                System.out.printf("  %-13s %,d connections (streams) open: RSS %,d -> %,d KiB, %.2f KiB per connection%n", system,
                        conns.size(), before, after, perConn);
                results.add("tunnel-concurrency", "kib_per_conn_" + n, system, perConn);
                results.add("tunnel-concurrency", "rss_mib_at_" + n, system, after / 1024.0);
                results.add("tunnel-concurrency", "opened_" + n, system, (double) conns.size());
                for (io.netty.channel.Channel c : conns) {
                    c.close();
                }
                Thread.sleep(500);
            } finally {
                procs.forEach(sys::stop);
            }
        }
    }

    /** Waits until a request with {@code host} through {@code port} is answered 200 (the tunnel is up). */
    private static void awaitHttp(int port, String host) throws Exception {
        long end = System.currentTimeMillis() + 60_000;
        while (true) {
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
                s.setSoTimeout(2000);
                s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n").getBytes());
                if (new String(s.getInputStream().readAllBytes()).startsWith("HTTP/1.1 200")) {
                    return;
                }
            } catch (IOException e) {
                // not yet
            }
            if (System.currentTimeMillis() > end) {
                throw new IllegalStateException("no 200 through port " + port + " for Host " + host + " within 60 s");
            }
            Thread.sleep(200);
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
        try (WidePorts ports = WidePorts.widen()) {
            Map<String, Double> v = wrk(sys, p, 10, secs, true);
            System.out.printf("  warm-up %-13s %.0f new connections/s%n", p.name(), v.get("conn_per_s"));
        }
    }

    // ------------------------------------------------------------------ wrk

    private Map<String, Double> wrk(Systems sys, Systems.Proxy p, int connections, int secs, boolean close) throws Exception {
        return wrk(sys, p, connections, secs, close, null);
    }

    private Map<String, Double> wrk(Systems sys, Systems.Proxy p, int connections, int secs, boolean close, String host) throws Exception {
        return wrk(sys, p, connections, secs, close, host, sys.loadCpus);
    }

    private Map<String, Double> wrk(Systems sys, Systems.Proxy p, int connections, int secs, boolean close, String host, String cpus)
            throws Exception {
        List<String> cmd = new ArrayList<>();
        if (cpus != null) {
            cmd.addAll(List.of("taskset", "-c", cpus));
        }
        cmd.addAll(List.of("wrk", "-t1", "-c" + connections, "-d" + secs + "s", "--latency"));
        if (close) {
            cmd.addAll(List.of("-H", "Connection: close"));
        }
        if (host != null) {
            cmd.addAll(List.of("-H", "Host: " + host));
        }
        cmd.add("http://127.0.0.1:" + p.httpPort() + "/");
        String text = Proc.run(cmd, secs + 60L);
        Map<String, Double> v = new LinkedHashMap<>();
        v.put(close ? "conn_per_s" : "req_per_s", number(text, "Requests/sec:\\s+([\\d.]+)"));
        v.put("mean_ms", wrkLatency(text, "Latency"));
        v.put("p50_ms", wrkLatency(text, "50%"));
        v.put("p99_ms", wrkLatency(text, "99%"));
        double errors = 0;
        Matcher m = Pattern.compile("Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)").matcher(text);
        if (m.find()) {
            errors = Double.parseDouble(m.group(1)) + Double.parseDouble(m.group(2)) + Double.parseDouble(m.group(3)) + Double.parseDouble(m.group(4));
        }
        Matcher non2xx = Pattern.compile("Non-2xx or 3xx responses: (\\d+)").matcher(text);
        if (non2xx.find()) {
            errors += Double.parseDouble(non2xx.group(1));
        }
        v.put("errors", errors);
        return v;
    }

    static double number(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        if (!m.find()) {
            throw new IllegalStateException("no match for " + regex + " in:\n" + text);
        }
        return Double.parseDouble(m.group(1));
    }

    /** A latency from wrk's output in ms: {@code pct} such as "50%", or "Latency" for the mean (the first column of that line). */
    static double wrkLatency(String text, String pct) {
        Matcher m = Pattern.compile("\\s" + Pattern.quote(pct) + "\\s+([\\d.]+)(us|ms|s)").matcher(text);
        if (!m.find()) {
            return Double.NaN;
        }
        double v = Double.parseDouble(m.group(1));
        return switch (m.group(2)) {
            case "us" -> v / 1000;
            case "s" -> v * 1000;
            default -> v;
        };
    }

    /**
     * New connection per request. Every connection leaves a TIME_WAIT entry for 60 s, and on loopback
     * a proxy's upstream connections all compete for one ephemeral port range: a table full of them
     * makes connect() slow for whoever is measured next. So each measurement starts with the table
     * drained, lasts at most 4 s, and the port range is widened for the scenario where allowed.
     */
    private void connectionRate(Systems sys, int r, int secs) throws Exception {
        try (WidePorts ports = WidePorts.widen()) {
            // the wait for the TIME_WAIT table is outside the measurement: it once counted in the
            // wall time the CPU share was taken over, and made HAProxy's 93% of a core read 6%
            rounds(sys, "l4-connrate", r, Math.min(secs, 4), false, p -> {
                if (!quick) { // --quick proves the scenario runs; its few seconds of connections fit the widened range
                    awaitTimeWaitDrained(20_000); // of the widened range's 45,000 ports
                }
            }, (p, d) -> wrk(sys, p, 50, d, true));
        }
    }

    /**
     * The ephemeral port range as "low high". Read line by line: {@code Files.readString} returned
     * only the first byte of this /proc file (its size is reported as 0), which once made the
     * restore below write "3" and fail, leaving the machine's range widened.
     */
    static String portRange() throws IOException {
        return String.join(" ", Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))).trim().replaceAll("\\s+", " ");
    }

    /**
     * The ephemeral port range widened to 20000-65000 for a scenario that opens many connections,
     * and put back on close, or by a shutdown hook when a signal ends the run first.
     */
    record WidePorts(String range, Thread restore) implements AutoCloseable {
        static final WidePorts NONE = new WidePorts(null, null);

        static WidePorts widen() throws IOException {
            String range = portRange();
            if (!Proc.runQuiet(List.of("sysctl", "-w", "net.ipv4.ip_local_port_range=20000 65000")).contains("20000")) {
                return NONE;
            }
            Thread restore = new Thread(() -> {
                try {
                    restorePortRange(range);
                } catch (IOException e) {
                    System.out.println("  WARNING: could not restore net.ipv4.ip_local_port_range to " + range + ": " + e);
                }
            }, "restore-port-range");
            Runtime.getRuntime().addShutdownHook(restore);
            return new WidePorts(range, restore);
        }

        boolean widened() {
            return range != null;
        }

        @Override
        public void close() throws IOException {
            if (widened()) {
                Runtime.getRuntime().removeShutdownHook(restore);
                restorePortRange(range);
            }
        }
    }

    private static void restorePortRange(String range) throws IOException {
        Proc.runQuiet(List.of("sysctl", "-w", "net.ipv4.ip_local_port_range=" + range));
        if (!portRange().equals(range)) {
            System.out.println("  WARNING: could not restore net.ipv4.ip_local_port_range to " + range + " (now " + portRange() + ")");
        }
    }

    private static void awaitTimeWaitDrained(long below) throws InterruptedException {
        long end = System.currentTimeMillis() + 65_000;
        while (System.currentTimeMillis() < end) {
            String out = Proc.runQuiet(List.of("sh", "-c", "ss -tan state time-wait | wc -l"));
            try {
                if (Long.parseLong(out.trim()) < below) {
                    return;
                }
            } catch (NumberFormatException e) {
                return; // no ss: nothing to wait for
            }
            Thread.sleep(1000);
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

    private double iperf(Systems sys, Systems.Proxy p, int streams, int secs) throws Exception {
        List<String> cmd = new ArrayList<>();
        if (sys.loadCpus != null) {
            cmd.addAll(List.of("taskset", "-c", sys.loadCpus));
        }
        cmd.addAll(List.of("iperf3", "-c", "127.0.0.1", "-p", Integer.toString(p.iperfPort()), "-t", Integer.toString(secs),
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

    // ------------------------------------------------------------------ idle concurrency

    private void concurrency(Systems sys, LoadGen gen, List<Integer> counts) throws Exception {
        List<InetSocketAddress> sources = new ArrayList<>();
        for (int i = 1; i <= 8; i++) {
            sources.add(new InetSocketAddress(InetAddress.getByName("127.0.0." + i), 0));
        }
        boolean many = counts.stream().anyMatch(n -> n > 20_000);
        try (WidePorts ports = many ? WidePorts.widen() : WidePorts.NONE) {
            if (many && !ports.widened()) {
                System.out.println("  cannot widen net.ipv4.ip_local_port_range (needs root): counts above 20,000 skipped");
                counts = counts.stream().filter(n -> n <= 20_000).toList();
            }
            for (int n : counts) {
                for (Systems.Proxy p : List.of(Systems.TITAN, Systems.HAPROXY, Systems.NGINX)) {
                    Proc proc = sys.start(p);
                    try {
                        warmUp(p.httpPort()); // a little traffic first, as a running proxy has had
                        Thread.sleep(1000);
                        long before = proc.rssKib();
                        List<io.netty.channel.Channel> conns = gen.idle(sources, new InetSocketAddress("127.0.0.1", p.httpPort()), n);
                        Thread.sleep(quick ? 1000 : 3000);
                        long after = proc.rssKib();
                        double perConn = (after - before) / (double) Math.max(1, conns.size());
                        System.out.printf("  %-13s %,d connections open: RSS %,d -> %,d KiB, %.2f KiB per connection%n", p.name(),
                                conns.size(), before, after, perConn);
                        results.add("l4-concurrency", "kib_per_conn_" + n, p.name(), perConn);
                        results.add("l4-concurrency", "rss_mib_at_" + n, p.name(), after / 1024.0);
                        results.add("l4-concurrency", "opened_" + n, p.name(), (double) conns.size());
                        for (io.netty.channel.Channel c : conns) {
                            c.close();
                        }
                        Thread.sleep(500);
                    } finally {
                        sys.stop(proc);
                    }
                }
            }
        }
    }

    /**
     * 10,000 and 50,000 where the open-file limit allows; a proxied connection costs the proxy two
     * descriptors, so the largest count is a little under half the hard limit.
     */
    private static List<Integer> concurrencyCounts() {
        long limit = openFileLimit();
        long max = (limit - 500) / 2;
        List<Integer> counts = new ArrayList<>();
        for (int n : List.of(10_000, 50_000)) {
            if (n <= max) {
                counts.add(n);
            }
        }
        if (counts.isEmpty()) {
            System.out.printf("  the open-file limit is %d here: 10,000 proxied connections need 20,000+ descriptors;"
                    + " measuring %d and %d instead%n", limit, max / 2, max);
            counts.add((int) (max / 2));
            counts.add((int) max);
        }
        return counts;
    }

    static long openFileLimit() {
        String v = Proc.runQuiet(List.of("sh", "-c", "ulimit -Hn"));
        try {
            return v.equals("unlimited") ? 1_048_576 : Long.parseLong(v);
        } catch (NumberFormatException e) {
            return 20_000;
        }
    }

    // ------------------------------------------------------------------ startup

    private void startup(Systems sys, int r) throws Exception {
        for (int round = 0; round < r; round++) {
            for (Systems.Proxy p : List.of(Systems.TITAN, Systems.HAPROXY, Systems.NGINX)) {
                long t0 = System.nanoTime();
                Proc proc = sys.start(p);
                try {
                    while (true) {
                        try {
                            httpOnce(p.httpPort());
                            break;
                        } catch (Exception e) {
                            Thread.sleep(5);
                        }
                    }
                    double ms = (System.nanoTime() - t0) / 1e6;
                    Thread.sleep(1000);
                    double rss = proc.rssKib() / 1024.0;
                    results.add("startup", "first_forward_ms", p.name(), ms);
                    results.add("startup", "idle_rss_mib", p.name(), rss);
                    System.out.printf("  round %d %-13s first forwarded request after %.0f ms, idle RSS %.1f MiB%n", round + 1, p.name(), ms, rss);
                } finally {
                    sys.stop(proc);
                }
            }
        }
    }

    /** Twenty requests through a freshly started system, each retried a few times while it settles. */
    private static void warmUp(int port) throws Exception {
        for (int i = 0; i < 20; i++) {
            for (int attempt = 1; ; attempt++) {
                try {
                    httpOnce(port);
                    break;
                } catch (Exception e) {
                    if (attempt == 5) {
                        throw new IllegalStateException("no answer through port " + port + " after 5 attempts: " + e, e);
                    }
                    Thread.sleep(200L * attempt);
                }
            }
        }
    }

    static void httpOnce(int port) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            s.setSoTimeout(2000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String res = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            if (!res.startsWith("HTTP/1.1 200")) {
                throw new IllegalStateException("unexpected response");
            }
        }
    }

    // ------------------------------------------------------------------ generator validation

    /**
     * Titan's load generator against wrk on direct nginx, closed loop, 10 and 100 connections, on
     * two backends: the benchmarks' own, as fast per request as either generator (so both it and
     * the generator run at their limit), and {@link Systems#SLOW_BACKEND}, about a third as fast,
     * which alone limits the run. Both generators run on the proxy cores (idle in this scenario),
     * so that neither competes with nginx for its core; the generator runs twice a round, with its
     * own clock and with wrk's.
     */
    private void validate(Systems sys, LoadGen gen, int r, int secs) throws Exception {
        String genCpus = sys.proxyCpus != null ? sys.proxyCpus : sys.loadCpus;
        pinSelf(genCpus);
        try {
            for (Systems.Proxy backend : List.of(Systems.DIRECT, Systems.SLOW_DIRECT)) {
                InetSocketAddress direct = new InetSocketAddress("127.0.0.1", backend.httpPort());
                String suffix = (backend == Systems.SLOW_DIRECT ? "_slow" : "") + "_c";
                for (int conns : List.of(10, 100)) {
                    wrk(sys, backend, conns, quick ? 1 : 3, false, null, genCpus);
                    gen.closedLoop(direct, conns, Duration.ofSeconds(quick ? 1 : 3));
                    for (int round = 0; round < r; round++) {
                        Map<String, Double> w = wrk(sys, backend, conns, secs, false, null, genCpus);
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
            pinSelf(sys.loadCpus);
        }
    }

    private void addValidation(String suffix, int conns, String system, double rps, double meanMs, double p50Ms, double p99Ms) {
        results.add("validate", "req_per_s" + suffix, system, rps);
        results.add("validate", "mean_ms" + suffix, system, meanMs);
        // Little's law: every connection always busy, so the mean time per request is connections / throughput
        results.add("validate", "littles_law_ms" + suffix, system, conns * 1000 / rps);
        results.add("validate", "p50_ms" + suffix, system, p50Ms);
        results.add("validate", "p99_ms" + suffix, system, p99Ms);
    }

    // ------------------------------------------------------------------ machine

    private static void pinSelf(String cpus) {
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

    String lowerCase(String s) {
        return s.toLowerCase(Locale.ROOT);
    }
}
