package dev.titan.overlay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.titan.core.net.Transport;
import dev.titan.core.store.Store;
import dev.titan.core.testing.TestServers;
import dev.titan.core.testing.Transports;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The overlay end to end with a real client: curl through a PoP's SOCKS5, HTTP proxy and mixed
 * ports, through a tunnel to an edge, to a service on loopback (which the edge is configured to
 * allow, as a lab would), on every transport.
 */
@ParameterizedClass(name = "{0}")
@MethodSource("transports")
class OverlayEndToEndTest {
    private static final String EDGE_SECRET = "edge-secret-for-tests";
    private static final String PASSWORD = "alice-pw";

    @Parameter
    Transport.Kind kind;

    private Transport transport;
    private TestServers.TcpServer backend;
    private final List<AutoCloseable> closing = new ArrayList<>();

    static Stream<Transport.Kind> transports() {
        return Transports.available();
    }

    @BeforeEach
    void setUp() throws IOException {
        transport = Transport.create(kind, 2);
        backend = TestServers.http("hello-from-backend", 0);
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        backend.close();
        transport.close();
    }

    /** A PoP with every port and user alice, and one edge with {@code allow} added to its egress policy; waits for the edge's tunnel. */
    private Pop overlay(List<String> allow) {
        Pop pop = OverlayFixture.startPop(OverlayFixture.config(true, true, true,
                List.of(OverlayFixture.user("alice", PASSWORD, Store.Limits.NONE)), Pop.ZeroRtt.OFF, null), transport, closing);
        OverlayFixture.startEdge(pop, "e1", Map.of(), allow, transport, closing);
        return pop;
    }

    private Pop labOverlay() {
        return overlay(List.of("127.0.0.0/8", "::1/128"));
    }

    private String url() {
        return "http://127.0.0.1:" + backend.port() + "/";
    }

    @Test
    void socks5WithRemoteDnsReachesTheServiceThroughTheEdge() throws Exception {
        Pop pop = labOverlay();
        Curl r = curl("--socks5-hostname", "127.0.0.1:" + pop.address("socks").getPort(), "--proxy-user", "alice:" + PASSWORD,
                "http://localhost:" + backend.port() + "/");
        assertThat(r.out).as(r.err).isEqualTo("hello-from-backend");
        assertThat(r.exit).isZero();
    }

    @Test
    void httpConnectAndAbsoluteFormReachTheService() throws Exception {
        Pop pop = labOverlay();
        String proxy = "http://127.0.0.1:" + pop.address("http_proxy").getPort();
        Curl tunnel = curl("-p", "-x", proxy, "--proxy-user", "alice:" + PASSWORD, url());
        assertThat(tunnel.out).as(tunnel.err).isEqualTo("hello-from-backend");
        Curl plain = curl("-x", proxy, "--proxy-user", "alice:" + PASSWORD, url() + "path?q=1");
        assertThat(plain.out).as(plain.err).isEqualTo("hello-from-backend");
    }

    @Test
    void theMixedPortTellsSocksFromHttp() throws Exception {
        Pop pop = labOverlay();
        int mixed = pop.address("mixed").getPort();
        Curl socks = curl("--socks5-hostname", "127.0.0.1:" + mixed, "--proxy-user", "alice:" + PASSWORD, url());
        assertThat(socks.out).as(socks.err).isEqualTo("hello-from-backend");
        Curl http = curl("-p", "-x", "http://127.0.0.1:" + mixed, "--proxy-user", "alice:" + PASSWORD, url());
        assertThat(http.out).as(http.err).isEqualTo("hello-from-backend");
    }

    @Test
    void wrongOrMissingCredentialsAreRefused() throws Exception {
        Pop pop = labOverlay();
        Curl socks = curl("--socks5-hostname", "127.0.0.1:" + pop.address("socks").getPort(), "--proxy-user", "alice:wrong", url());
        assertThat(socks.exit).as("curl's exit for a refused SOCKS5 login").isNotZero();
        assertThat(socks.out).isEmpty();
        Curl noAuth = curl("--socks5-hostname", "127.0.0.1:" + pop.address("socks").getPort(), url());
        assertThat(noAuth.exit).isNotZero();
        Curl http = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", "http://127.0.0.1:" + pop.address("http_proxy").getPort(),
                "--proxy-user", "alice:wrong", url());
        assertThat(http.out).isEqualTo("407");
        assertThat(backend.accepted()).as("nothing reached the service").isZero();
    }

    @Test
    void theEdgeRefusesLoopbackUnlessAllowedAndSaysSo() throws Exception {
        Pop pop = overlay(List.of()); // the default policy: no loopback
        Curl http = curl("-s", "-D", "-", "-o", "/dev/null", "-x", "http://127.0.0.1:" + pop.address("http_proxy").getPort(),
                "--proxy-user", "alice:" + PASSWORD, url());
        assertThat(http.out).contains("403").containsIgnoringCase("Proxy-Status: titan; error=destination_ip_prohibited");
        Curl socks = curl("--socks5-hostname", "127.0.0.1:" + pop.address("socks").getPort(), "--proxy-user", "alice:" + PASSWORD,
                "http://localhost:" + backend.port() + "/");
        assertThat(socks.exit).isNotZero();
        assertThat(socks.err).as("SOCKS5 reply 2: not allowed by ruleset").contains("(2)");
        assertThat(backend.accepted()).as("no packet reached the refused address").isZero();
    }

    @Test
    void aNameThatDoesNotResolveAtTheEdgeIsReportedAsDns() throws Exception {
        Pop pop = labOverlay();
        Curl http = curl("-s", "-D", "-", "-o", "/dev/null", "-p", "-x", "http://127.0.0.1:" + pop.address("http_proxy").getPort(),
                "--proxy-user", "alice:" + PASSWORD, "http://no-such-host.invalid/");
        assertThat(http.out).contains("502").contains("error=dns_error");
    }

    @Test
    void malformedProxyInputClosesOnlyThatConnection() throws Exception {
        Pop pop = labOverlay();
        for (byte[] garbage : List.of(new byte[] {4, 1, 0, 80, 127, 0, 0, 1, 0}, // SOCKS4
                new byte[] {5, 1, 2, 2, 3, 'a'}, // a login of the wrong version (2)
                new byte[] {5, 0})) { // a greeting with no method
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", pop.address("socks").getPort())) {
                s.setSoTimeout(5_000);
                s.getOutputStream().write(garbage);
                byte[] all = s.getInputStream().readAllBytes(); // ends: the PoP closed it
                assertThat(all.length).as("at most a method choice came back").isLessThanOrEqualTo(2);
            }
        }
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", pop.address("http_proxy").getPort())) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write("GET /relative HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic YWxpY2U6YWxpY2UtcHc=\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(answer).startsWith("HTTP/1.1 400").contains("absolute http:// URI");
        }
        Curl after = curl("--socks5-hostname", "127.0.0.1:" + pop.address("socks").getPort(), "--proxy-user", "alice:" + PASSWORD, url());
        assertThat(after.out).as("the PoP still serves").isEqualTo("hello-from-backend");
    }

    record Curl(int exit, String out, String err) {
    }

    private static Curl curl(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "10"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("curl finished").isTrue();
        return new Curl(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }
}
