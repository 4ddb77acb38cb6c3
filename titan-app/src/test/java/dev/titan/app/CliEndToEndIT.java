package dev.titan.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.titan.core.testing.TestServers;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import org.junit.jupiter.api.io.TempDir;

/** The packaged {@code titan} jar driven as a user drives it: processes, files and signals. */
class CliEndToEndIT {
    private static final String JAR = System.getProperty("titan.jar", "target/titan.jar");
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    private final List<Process> processes = new ArrayList<>();
    private final List<AutoCloseable> servers = new ArrayList<>();
    private final List<Path> logs = new ArrayList<>();

    /** A failed test prints the end of each Titan's log (kept by {@link #cleanUp}), so that CI's output says what Titan did. */
    @RegisterExtension
    final TestWatcher printLogsOfFailures = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            Path kept = Path.of("target", "it-process-logs", context.getRequiredTestMethod().getName());
            for (Path log : logs) {
                try {
                    List<String> lines = Files.readAllLines(kept.resolve(log.getFileName()));
                    System.out.println("---- last lines of " + log.getFileName() + " (" + context.getDisplayName() + ")");
                    lines.subList(Math.max(0, lines.size() - 40), lines.size()).forEach(System.out::println);
                } catch (IOException e) {
                    System.out.println("---- " + log.getFileName() + ": " + e);
                }
            }
        }
    };

    @AfterEach
    void cleanUp(TestInfo test) throws Exception {
        for (Process p : processes) {
            p.destroyForcibly();
        }
        for (AutoCloseable s : servers) {
            s.close();
        }
        // each Titan's log outlives the test's temporary directory, for a failure to be read after the run
        Path kept = Files.createDirectories(Path.of("target", "it-process-logs", test.getTestMethod().orElseThrow().getName()));
        for (Path log : logs) {
            if (Files.exists(log)) {
                Files.copy(log, kept.resolve(log.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                assertThat(Files.readString(log)).as("Netty leak reports in %s", log).doesNotContain("LEAK:");
            }
        }
    }

    private Process titan(Path log, String... args) throws IOException {
        return titan(List.of(), log, args);
    }

    /** Titan started by {@code launcher} (a command that runs the rest, such as nohup). */
    private Process titan(List<String> launcher, Path log, String... args) throws IOException {
        // a running Titan leaves Netty's leak detector off unless asked (Main): these tests ask for all of it
        List<String> cmd = new ArrayList<>(launcher);
        cmd.addAll(List.of(JAVA, "-Dio.netty.leakDetection.level=paranoid", "-jar", JAR));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        processes.add(p);
        logs.add(log);
        return p;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static String httpGet(int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            s.setSoTimeout(5000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String res = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            return res.substring(res.indexOf("\r\n\r\n") + 4);
        }
    }

    private static void signal(Process p, String sig) throws Exception {
        new ProcessBuilder("kill", "-" + sig, Long.toString(p.pid())).inheritIO().start().waitFor();
    }

    @Test
    void runStatusReloadAndGracefulStop(@TempDir Path dir) throws Exception {
        TestServers.TcpServer a = TestServers.http("a", 0);
        TestServers.TcpServer b = TestServers.http("b", 0);
        servers.add(a);
        servers.add(b);
        int port = freePort();
        int admin = freePort();
        int metrics = freePort();
        Path cfg = dir.resolve("titan.yaml");
        String yaml = """
                logging: { level: info }
                metrics: { listen_addr: "127.0.0.1:%d" }
                admin: { listen_addr: "127.0.0.1:%d", token: "${TEST_TOKEN:-e2e-token-0123456789}" }
                drain_timeout: 2s
                listeners: [ { name: web, listen_addr: "127.0.0.1:%d", cluster: web } ]
                clusters:
                  web:
                    endpoints: [ "%s" ]
                    probing: { interval: 200ms }
                """.formatted(metrics, admin, port, a.endpoint());
        Files.writeString(cfg, yaml);
        Path log = dir.resolve("titan.log");
        Process titan = titan(log, "run", "-c", cfg.toString());
        await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> httpGet(port).equals("a"));

        Path statusOut = dir.resolve("status.txt");
        Process status = titan(statusOut, "status", "-c", cfg.toString());
        assertThat(status.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(status.exitValue()).as(Files.readString(statusOut)).isZero();
        assertThat(Files.readString(statusOut)).contains("ENDPOINT", "SCORE", "PEN", "BONUS", a.endpoint(), "active");

        // a changed file is picked up by the watcher
        Files.writeString(cfg, yaml.replace(a.endpoint(), b.endpoint()));
        await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> httpGet(port).equals("b"));

        // an invalid file is refused on SIGHUP and the running configuration stays
        Files.writeString(cfg, yaml.replace("probing: { interval: 200ms }", "probing: { interval: never }"));
        signal(titan, "HUP");
        await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(log).contains("refused"));
        assertThat(Files.readString(log)).contains("clusters.web.probing.interval");
        assertThat(httpGet(port)).isEqualTo("b");
        assertThat(Files.readString(log)).as("the admin token is never logged").doesNotContain("e2e-token-0123456789");

        signal(titan, "TERM");
        assertThat(titan.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(titan.exitValue()).as("graceful stop").isZero();
        assertThat(Files.readString(log)).contains("stopped");
    }

    /** Started with SIGHUP ignored (nohup), the JVM cannot take SIGHUP over: Titan says so and how to reload instead. */
    @Test
    void aTitanThatCannotTakeSighupSaysHowToReload(@TempDir Path dir) throws Exception {
        TestServers.TcpServer web = TestServers.http("web", 0);
        servers.add(web);
        Path cfg = dir.resolve("t.yaml");
        Files.writeString(cfg, """
                metrics: { enabled: false }
                admin: { enabled: false }
                listeners: [ { name: web, listen_addr: "127.0.0.1:%d", cluster: web } ]
                clusters: { web: { endpoints: [ "%s" ] } }
                """.formatted(freePort(), web.endpoint()));
        Path log = dir.resolve("t.log");
        titan(List.of("nohup"), log, "run", "-c", cfg.toString(), "--no-watch");
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(log).contains("titan running"));
        await().atMost(Duration.ofSeconds(5)).until(() -> Files.readString(log).contains(
                "SIGHUP is ignored in this process (started with nohup, or by a parent that ignores it), so it cannot reload Titan;"
                        + " run without --no-watch so that saving the configuration file reloads it"));
    }

    @Test
    void checkRefusesABadFileWithExitCode2(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("bad.yaml");
        Files.writeString(cfg, "listeners: [ { listen_addr: nowhere, cluster: x } ]\n");
        Path out = dir.resolve("out.txt");
        Process p = titan(out, "check", "-c", cfg.toString());
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(Files.readString(out)).contains("listeners[0].listen_addr", "listeners[0].cluster: no cluster named 'x'");
    }

    @Test
    void demoShowsTrafficMovingToTheFastestBackend(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("demo.txt");
        Process demo = titan(out, "demo", "--duration", "8", "--switch-after", "0", "--port", Integer.toString(freePort()),
                "--metrics-port", Integer.toString(freePort()), "--admin-port", Integer.toString(freePort()));
        assertThat(demo.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String text = Files.readString(out);
        assertThat(demo.exitValue()).as(text).isZero();
        assertThat(text).contains("forwarder", "metrics", "./titan status");
        String last = text.lines().filter(l -> l.startsWith("t=")).reduce((x, y) -> y).orElseThrow();
        assertThat(last).contains("medium=0", "slow=0", "active set: [fast]").doesNotContain("fast=0 ");
    }

    static {
        // so that a stray demo token file from these tests does not land in a developer's home
        new File(System.getProperty("java.io.tmpdir")).mkdirs();
    }

    @Test
    void tunnelServerAndClientFromQuickFlagsServeHttpByHostToCurl(@TempDir Path dir) throws Exception {
        TestServers.TcpServer web = TestServers.http("behind-nat", 0);
        servers.add(web);
        int port = freePort();
        Process server = titan(dir.resolve("server.log"), "server", "--addr", "127.0.0.1:" + port, "--id", "id1", "--secret", "quick-secret-1");
        Process client = titan(dir.resolve("client.log"), "client", "--local", "http://127.0.0.1:" + web.port(),
                "--remote", "tcp://127.0.0.1:" + port, "--id", "id1", "--secret", "quick-secret-1", "--connections", "2");
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(dir.resolve("server.log")).split("tunnel of id1 connected").length > 2);

        // a real HTTP client, on the tunnel's own port, naming the client by the first label of the Host
        Process curl = new ProcessBuilder("curl", "-sS", "--max-time", "5", "-H", "Host: id1.localhost", "http://127.0.0.1:" + port + "/")
                .redirectErrorStream(true).start();
        String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(curl.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(out).as("curl through the tunnel").isEqualTo("behind-nat");

        // a wrong secret is refused with a reason in the client's log, and never appears in any log
        Process intruder = titan(dir.resolve("intruder.log"), "client", "--local", "http://127.0.0.1:" + web.port(),
                "--remote", "tcp://127.0.0.1:" + port, "--id", "id1", "--secret", "wrong-secret-9");
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(dir.resolve("intruder.log")).contains("unknown id or wrong secret"));
        intruder.destroy();

        signal(client, "TERM");
        signal(server, "TERM");
        assertThat(client.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(server.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(client.exitValue()).isZero();
        assertThat(server.exitValue()).isZero();
        for (String log : List.of("server.log", "client.log", "intruder.log")) {
            String text = Files.readString(dir.resolve(log));
            assertThat(text).as(log + " never shows a secret").doesNotContain("quick-secret-1").doesNotContain("wrong-secret-9");
        }
    }

    @Test
    void popAndEdgeFromQuickFlagsCarryCurlThroughSocks5AndTheHttpProxy(@TempDir Path dir) throws Exception {
        TestServers.TcpServer web = TestServers.http("via-the-edge", 0);
        servers.add(web);
        int socks = freePort();
        int http = freePort();
        int edges = freePort();
        Process pop = titan(dir.resolve("pop.log"), "pop", "--socks", "127.0.0.1:" + socks, "--http", "127.0.0.1:" + http,
                "--edges", "127.0.0.1:" + edges, "--user", "alice:alice-password", "--edge", "e1:edge-secret-1");
        Process edge = titan(dir.resolve("edge.log"), "edge", "--pop", "ws://127.0.0.1:" + edges, "--id", "e1", "--secret", "edge-secret-1",
                "--label", "country=us", "--allow", "127.0.0.0/8");
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(dir.resolve("pop.log")).contains("tunnel of e1 connected"));

        for (List<String> via : List.of(List.of("--socks5-hostname", "127.0.0.1:" + socks), List.of("-x", "http://127.0.0.1:" + http))) {
            List<String> cmd = new java.util.ArrayList<>(List.of("curl", "-sS", "--max-time", "5", "--proxy-user", "alice:alice-password"));
            cmd.addAll(via);
            cmd.add("http://localhost:" + web.port() + "/");
            Process curl = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(curl.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(out).as("curl " + via).isEqualTo("via-the-edge");
        }

        signal(edge, "TERM");
        signal(pop, "TERM");
        assertThat(edge.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(pop.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(edge.exitValue()).isZero();
        assertThat(pop.exitValue()).isZero();
        for (String log : List.of("pop.log", "edge.log")) {
            assertThat(Files.readString(dir.resolve(log))).as(log + " never shows a secret").doesNotContain("alice-password")
                    .doesNotContain("edge-secret-1");
        }
    }

    @Test
    void anOpenPopIsRefusedAtStart(@TempDir Path dir) throws Exception {
        Process p = titan(dir.resolve("pop.log"), "pop", "--socks", "127.0.0.1:" + freePort(), "--edges", "127.0.0.1:" + freePort(),
                "--edge", "e1:edge-secret-1");
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(Files.readString(dir.resolve("pop.log"))).contains("pop.users").contains("open proxy");
    }

    @Test
    void tunnelConfigProblemsAreReportedWithTheirPaths(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("server.yaml");
        Files.writeString(cfg, """
                tunnel_server:
                  listen_addr: "127.0.0.1:99999"
                  users:
                    - { id: id1, secret: short, ports: ["20000-19000"], colour: blue }
                """);
        Process p = titan(dir.resolve("check.log"), "server", "-c", cfg.toString());
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
        String out = Files.readString(dir.resolve("check.log"));
        assertThat(out).contains("tunnel_server.listen_addr").contains("tunnel_server.users[0].secret")
                .contains("tunnel_server.users[0].ports").contains("tunnel_server.users[0].colour");
    }

    @Test
    void reloadingTunnelClientAndServerUnderLoadGivesZeroErrors(@TempDir Path dir) throws Exception {
        TestServers.TcpServer web = TestServers.http("behind-nat", 0);
        servers.add(web);
        int port = freePort();
        String head = "logging: { level: info }\nmetrics: { enabled: false }\nadmin: { enabled: false }\n";
        Path serverYaml = dir.resolve("server.yaml");
        Files.writeString(serverYaml, head + """
                tunnel_server:
                  listen_addr: "127.0.0.1:%d"
                  users: [ { id: id1, secret: "reload-secret-1" } ]
                """.formatted(port));
        Path clientYaml = dir.resolve("client.yaml");
        String client = head + """
                tunnel_client:
                  servers: [ "tcp://127.0.0.1:%d" ]
                  id: id1
                  secret: "reload-secret-1"
                  connections: %d
                  services: [ { name: web, local: "http://127.0.0.1:%d" } ]
                """;
        Files.writeString(clientYaml, client.formatted(port, 1, web.port()));
        Process server = titan(dir.resolve("server.log"), "server", "-c", serverYaml.toString(), "--no-watch");
        Process clientProc = titan(dir.resolve("client.log"), "client", "-c", clientYaml.toString(), "--no-watch");
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(dir.resolve("server.log")).contains("tunnel of id1 connected"));

        java.util.concurrent.atomic.AtomicLong ok = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.ConcurrentLinkedQueue<String> errors = new java.util.concurrent.ConcurrentLinkedQueue<>();
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        List<Thread> load = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            load.add(Thread.ofPlatform().start(() -> {
                while (!stop.get()) {
                    try (Socket s = new Socket("127.0.0.1", port)) {
                        s.setSoTimeout(5000);
                        s.getOutputStream().write("GET / HTTP/1.1\r\nHost: id1.localhost\r\nConnection: close\r\n\r\n"
                                .getBytes(StandardCharsets.US_ASCII));
                        String r = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                        if (r.startsWith("HTTP/1.1 200") && r.endsWith("behind-nat")) {
                            ok.incrementAndGet();
                        } else {
                            errors.add(r.lines().findFirst().orElse("empty response"));
                        }
                    } catch (IOException e) {
                        errors.add(e.toString());
                    }
                }
            }));
        }
        Thread.sleep(1000);
        Files.writeString(clientYaml, client.formatted(port, 2, web.port()));
        signal(clientProc, "HUP");
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(dir.resolve("client.log")).contains("draining the old one"));
        Files.writeString(serverYaml, head + """
                tunnel_server:
                  listen_addr: "127.0.0.1:%d"
                  users: [ { id: id1, secret: "reload-secret-1" }, { id: id2, secret: "reload-secret-2" } ]
                """.formatted(port));
        signal(server, "HUP");
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(dir.resolve("server.log")).contains("tunnel server updated"));
        Thread.sleep(2000);
        stop.set(true);
        for (Thread t : load) {
            t.join(10_000);
        }
        assertThat(errors).as("requests that failed while client and server reloaded").isEmpty();
        assertThat(ok.get()).as("requests served").isGreaterThan(100);
        await().atMost(Duration.ofSeconds(30)).alias("the old tunnel ended after its streams")
                .until(() -> Files.readString(dir.resolve("server.log")).contains("closed (2 replica(s) left)"));
        signal(clientProc, "TERM");
        signal(server, "TERM");
        assertThat(clientProc.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(server.waitFor(20, TimeUnit.SECONDS)).isTrue();
    }

    /** A tunnel section that appears on reload starts; one that disappears stops accepting and drains. */
    @Test
    void reloadAddsAndRemovesWholeTunnelSections(@TempDir Path dir) throws Exception {
        TestServers.TcpServer web = TestServers.http("added-by-reload", 0);
        servers.add(web);
        int tunnelPort = freePort();
        String base = """
                logging: { level: info }
                metrics: { enabled: false }
                admin: { enabled: false }
                drain_timeout: 2s
                listeners: [ { name: web, listen_addr: "127.0.0.1:%d", cluster: web } ]
                clusters: { web: { endpoints: [ "%s" ] } }
                """;
        String serverSection = """
                tunnel_server:
                  listen_addr: "127.0.0.1:%d"
                  users: [ { id: id1, secret: "sections-secret" } ]
                """.formatted(tunnelPort);
        String clientSection = """
                tunnel_client:
                  servers: [ "tcp://127.0.0.1:%d" ]
                  id: id1
                  secret: "sections-secret"
                  services: [ { name: web, local: "http://127.0.0.1:%d" } ]
                """.formatted(tunnelPort, web.port());
        Path a = dir.resolve("a.yaml");
        Path b = dir.resolve("b.yaml");
        Files.writeString(a, base.formatted(freePort(), web.endpoint()));
        Files.writeString(b, base.formatted(freePort(), web.endpoint()));
        Process pa = titan(dir.resolve("a.log"), "run", "-c", a.toString(), "--no-watch");
        Process pb = titan(dir.resolve("b.log"), "run", "-c", b.toString(), "--no-watch");
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(dir.resolve("a.log")).contains("titan running")
                && Files.readString(dir.resolve("b.log")).contains("titan running"));

        Files.writeString(a, base.formatted(freePort(), web.endpoint()) + serverSection);
        signal(pa, "HUP");
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(dir.resolve("a.log")).contains("tunnel server started"));
        Files.writeString(b, base.formatted(freePort(), web.endpoint()) + clientSection);
        signal(pb, "HUP");
        await().atMost(Duration.ofSeconds(30)).alias("the added client's tunnel serves requests")
                .until(() -> get(tunnelPort).startsWith("HTTP/1.1 200"));
        assertThat(get(tunnelPort)).endsWith("added-by-reload");

        Files.writeString(b, base.formatted(freePort(), web.endpoint()));
        signal(pb, "HUP");
        await().atMost(Duration.ofSeconds(30)).alias("the removed client's tunnel ends")
                .until(() -> Files.readString(dir.resolve("a.log")).contains("closed (0 replica(s) left)"));
        assertThat(get(tunnelPort)).as("a configured id with no tunnel says why")
                .startsWith("HTTP/1.1 503").endsWith("no tunnel of client id1 is connected; try again later\n");

        Files.writeString(a, base.formatted(freePort(), web.endpoint()));
        signal(pa, "HUP");
        await().atMost(Duration.ofSeconds(30)).alias("the removed server closes its port").until(() -> {
            try (Socket s = new Socket("127.0.0.1", tunnelPort)) {
                return false;
            } catch (IOException e) {
                return true;
            }
        });
        signal(pa, "TERM");
        signal(pb, "TERM");
        assertThat(pa.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(pb.waitFor(20, TimeUnit.SECONDS)).isTrue();
    }

    private static String get(int port) {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: id1.localhost\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            return e.toString();
        }
    }
}
