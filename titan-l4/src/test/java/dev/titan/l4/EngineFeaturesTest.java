package dev.titan.l4;

import static dev.titan.l4.Harness.QUIET;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.cluster.Endpoint;
import dev.titan.core.net.Transport;
import dev.titan.core.testing.TestServers;
import dev.titan.core.testing.TestServers.TcpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Engine features that do not depend on the transport: config forms, sources, metrics, status. */
class EngineFeaturesTest {
    private Harness h;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() {
        h = new Harness(defaultKind());
    }

    static Transport.Kind defaultKind() {
        return io.netty.channel.epoll.Epoll.isAvailable() ? Transport.Kind.EPOLL : Transport.Kind.NIO;
    }

    @AfterEach
    void stop() throws Exception {
        h.close();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private HttpResponse<String> get(String url, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aSeed001ConfigFileStartsAndForwards(@TempDir Path dir) throws Exception {
        TcpServer a = h.add(TestServers.echo("a"));
        TcpServer b = h.add(TestServers.echo("b"));
        Files.writeString(dir.resolve("ip_list.txt"), "# backends\n" + a.endpoint() + "\n" + b.endpoint() + "\n");
        int port = freePort();
        int metricsPort = freePort();
        // the seed's own file; only its ports and the list's location differ on this machine, plus the
        // admin API (which the seed does not have) on a free port instead of Titan's default 9098
        String seed = new String(getClass().getResourceAsStream("/configs/seed-001.yaml").readAllBytes(), StandardCharsets.UTF_8)
                .replace("127.0.0.1:1234", "127.0.0.1:" + port)
                .replace("127.0.0.1:9099", "127.0.0.1:" + metricsPort)
                .replace("./ip_list.txt", dir.resolve("ip_list.txt").toString())
                + "\nadmin: { listen_addr: \"127.0.0.1:0\" }\n";
        Path file = dir.resolve("forwarder.yaml");
        Files.writeString(file, seed);
        h.start(Harness.loader().load(file));
        byte[] msg = "seed config".getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < 10; i++) {
            assertThat(Harness.echo(new java.net.InetSocketAddress("127.0.0.1", port), msg)).isEqualTo(msg);
        }
        Cluster c = h.engine.clusters().get("default");
        assertThat(c.active()).hasSize(2);
        String metrics = get("http://127.0.0.1:" + metricsPort + "/metrics", null).body();
        assertThat(metrics).contains("titan_new_connections_total{listener=\"default\"} 10.0");
    }

    @Test
    void metricsCoverTheSeedFamiliesWithBoundedEndpointLabels() throws Exception {
        TcpServer real = h.add(TestServers.echo("real"));
        // 16 loopback addresses where nothing listens, plus one that works
        h.start("""
                metrics: { listen_addr: "127.0.0.1:0", endpoint_label_limit: 4 }
                admin: { listen_addr: "127.0.0.1:0", token: "0123456789abcdef-test" }
                listeners: [ { name: fw, listen_addr: "127.0.0.1:0", cluster: c } ]
                clusters:
                  c:
                    default_remote_port: %d
                    endpoints: [ "127.0.2.0/28", "%s" ]
                    probing: { interval: 100ms }
                    selector: { evaluation_interval: 100ms }
                    pools: { strategy: { type: static, static: { size_per_remote: 2 } } }
                """.formatted(real.port(), real.endpoint()));
        Harness.echo(h.address("fw"), new byte[] {1});
        String base = "http://127.0.0.1:" + h.engine.metricsAddress().getPort();
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(get(base + "/metrics", null).body()).contains("titan_server_score{cluster=\"c\",endpoint=\"" + real.endpoint()));
        String text = get(base + "/metrics", null).body();
        for (String family : List.of("titan_new_connections_total", "titan_active_connections", "titan_connection_duration_seconds",
                "titan_bytes_transferred_total", "titan_server_probe_success_total", "titan_server_probe_duration_seconds",
                "titan_server_score", "titan_server_consecutive_failures", "titan_pool_connections", "titan_pool_hits_total",
                "titan_pool_misses_total", "titan_pool_scale_up_total", "titan_pool_scale_down_total", "titan_pool_total_connections",
                "titan_pool_available_connections", "titan_pool_active_connections", "titan_pool_utilization_percent",
                "titan_pool_peak_concurrency", "titan_lb_requests_total", "titan_lb_backend_connections", "titan_uptime_seconds",
                "titan_health_checks_total")) {
            assertThat(text).as("metric family %s", family).contains(family);
        }
        Matcher m = Pattern.compile("titan_server_score\\{cluster=\"c\",endpoint=\"([^\"]+)\"").matcher(text);
        Set<String> labelled = new java.util.HashSet<>();
        while (m.find()) {
            labelled.add(m.group(1));
        }
        assertThat(labelled).as("endpoint label values").hasSizeLessThanOrEqualTo(4).contains(real.endpoint());
        assertThat(get(base + "/healthz", null).statusCode()).isEqualTo(200);

        String admin = "http://127.0.0.1:" + h.engine.adminAddress().getPort();
        assertThat(get(admin + "/api/v1/status", null).statusCode()).as("no token").isEqualTo(401);
        assertThat(get(admin + "/api/v1/status", "0123456789abcdef-wrong").statusCode()).as("wrong token").isEqualTo(401);
        HttpResponse<String> status = get(admin + "/api/v1/status", "0123456789abcdef-test");
        assertThat(status.statusCode()).isEqualTo(200);
        assertThat(status.body()).contains("\"endpoint\" : \"" + real.endpoint() + "\"", "\"state\" : \"active\"", "\"latency_score\"",
                "\"jitter_score\"", "\"success_score\"", "\"penalty\"", "\"bonus\"", "\"state\" : \"down\"");
    }

    @Test
    void aSlash16IsSampledWithBoundedState() throws Exception {
        // a server on every loopback address, so that any of the 65,536 candidates answers
        TcpServer any = h.add(TestServers.echo("any", InetAddress.getByName("0.0.0.0")));
        h.start(QUIET + """
                listeners: [ { name: fw, listen_addr: "127.0.0.1:0", cluster: c } ]
                clusters:
                  c:
                    default_remote_port: %d
                    endpoints: [ "127.1.0.0/16" ]
                    provider: { max_tracked: 300 }
                    probing: { interval: 50ms, probe_candidate_count: 40, initial: { max_candidates: 200, max_concurrency: 32 } }
                    selector: { evaluation_interval: 100ms }
                    pools: { strategy: { type: static, static: { size_per_remote: 0 } } }
                """.formatted(any.port()));
        Cluster c = h.engine.clusters().get("c");
        assertThat(c.addressCount()).isEqualTo(65_536);
        assertThat(c.active()).as("chosen from the initial sample").hasSize(3);
        Thread.sleep(1500); // ~30 probe rounds of 40: 1,200 probes, more than max_tracked
        List<dev.titan.core.cluster.EndpointStatus> tracked = c.status().join();
        assertThat(tracked.size()).as("endpoints with state").isBetween(250, 300 + 40);
        byte[] msg = {42};
        for (int i = 0; i < 20; i++) {
            assertThat(Harness.echo(h.address("fw"), msg)).isEqualTo(msg);
        }
        assertThat(c.active()).allSatisfy(e -> assertThat(e.address().getAddress().getHostAddress()).startsWith("127.1."));
    }

    @Test
    void aWatchedIpListReloadsWithoutDroppingConnections(@TempDir Path dir) throws Exception {
        TcpServer a = h.add(TestServers.http("a", 0));
        TcpServer b = h.add(TestServers.http("b", 0));
        Path list = dir.resolve("ips.txt");
        Files.writeString(list, a.endpoint() + "\n");
        h.start(QUIET + """
                listeners: [ { name: fw, listen_addr: "127.0.0.1:0", cluster: c } ]
                clusters:
                  c:
                    provider: { type: file, file: { path: "%s", watch: true } }
                    probing: { interval: 100ms }
                    selector: { evaluation_interval: 100ms }
                """.formatted(list));
        Cluster c = h.engine.clusters().get("c");
        try (Socket kept = new Socket()) {
            kept.connect(h.address("fw"));
            kept.setSoTimeout(5000);
            assertThat(Harness.httpGet(kept, false)).isEqualTo("a");
            Files.writeString(list, "# a is gone\n" + b.endpoint() + "\n");
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                    assertThat(c.active().stream().map(Endpoint::id).collect(Collectors.toSet())).containsExactly(b.endpoint()));
            assertThat(Harness.httpGet(h.address("fw"))).isEqualTo("b");
            assertThat(Harness.httpGet(kept, false)).as("the established connection survives the list change").isEqualTo("a");
            // a broken list is refused and the current one stays
            Files.writeString(list, "not an address!\n");
            Thread.sleep(1500);
            assertThat(c.addressCount()).isEqualTo(1);
            assertThat(Harness.httpGet(h.address("fw"))).isEqualTo("b");
        }
    }

    @Test
    void hostNamesAreResolvedThroughDns() throws Exception {
        TcpServer a = h.add(TestServers.echo("a"));
        h.start(QUIET + """
                listeners: [ { name: fw, listen_addr: "127.0.0.1:0", cluster: c } ]
                clusters:
                  c: { endpoints: [ "localhost:%d" ] }
                """.formatted(a.port()));
        byte[] msg = {9, 8, 7};
        assertThat(Harness.echo(h.address("fw"), msg)).isEqualTo(msg);
        assertThat(h.engine.clusters().get("c").status().join()).anyMatch(s -> s.endpoint().equals(a.endpoint()));
    }

    @Test
    void ejectingTheLastEndpointStillRoutesToIt() throws Exception {
        AtomicInteger conns = new AtomicInteger();
        TcpServer flaky = h.add(new TcpServer("flaky", s -> {
            if (s.getInputStream().read() < 0) {
                return; // a probe
            }
            if (conns.incrementAndGet() <= 2) {
                s.setSoLinger(true, 0); // the first two requests: reset without a reply
                return;
            }
            s.getOutputStream().write(7); // then it recovers
            TestServers.echoLoopPublic(s);
        }));
        h.start(QUIET + """
                listeners: [ { name: fw, listen_addr: "127.0.0.1:0", cluster: c } ]
                clusters:
                  c:
                    endpoints: [ "%s" ]
                    probing: { interval: 1h }
                    outlier: { consecutive_failures: 2, base_ejection_time: 1m }
                    pools: { strategy: { type: static, static: { size_per_remote: 0 } } }
                """.formatted(flaky.endpoint()));
        Cluster c = h.engine.clusters().get("c");
        for (int i = 0; i < 2; i++) {
            byte[] got;
            try {
                got = Harness.echo(h.address("fw"), new byte[] {1});
            } catch (IOException reset) {
                got = new byte[0];
            }
            assertThat(got).as("reply through a reset").isEmpty();
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(c.status().join())
                .singleElement().extracting(dev.titan.core.cluster.EndpointStatus::state).isEqualTo("ejected"));
        // the only endpoint is ejected for a minute: refusing every client for that long on a
        // guess would be worse than trying it
        assertThat(Harness.echo(h.address("fw"), new byte[] {1})).as("first byte from the recovered backend").containsExactly(7);
        assertThat(c.status().join()).singleElement().extracting(dev.titan.core.cluster.EndpointStatus::state).isEqualTo("ejected");
    }

    static String readAll(InputStream in) throws IOException {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
}
