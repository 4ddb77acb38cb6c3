package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.titan.core.net.Transport;
import dev.titan.core.testing.TestServers;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The tunnel's transports over real sockets: tcp, tls (the server terminates TLS on its shared
 * port), ws and wss (a WebSocket upgrade on the tunnel path); the client verifies the server's
 * certificate and, given several ways to one server, keeps to the one that works.
 */
class TransportsTest {
    private static final String SECRET = "s3cret-for-tests";

    @TempDir
    Path dir;
    private Transport transport;
    private TunnelServer server;
    private TestCerts certs;
    private int exposed;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        certs = TestCerts.make(dir, "tunnel.test", "dns:tunnel.test,dns:id1.tunnel.test,ip:127.0.0.1");
        transport = Transport.create(Transport.Kind.NIO, 2);
        exposed = TunnelFixture.freePort();
        TestServers.TcpServer echo = TestServers.echo("echo");
        closing.add(echo);
        TunnelServerConfig cfg = new TunnelServerConfig(new InetSocketAddress("127.0.0.1", 0), "127.0.0.1",
                List.of(TunnelServerConfig.User.of("id1", SECRET, List.of(new TunnelServerConfig.PortRange(exposed, exposed)))),
                TunnelSettings.DEFAULTS, Duration.ofMinutes(1), null).withTls(TunnelServerConfig.Tls.of(certs.certPem(), certs.keyPem()));
        server = new TunnelServer(cfg, transport);
        server.start();
        echoService = TunnelClientConfig.LocalService.tcp("echo", echo.address(), exposed);
    }

    private TunnelClientConfig.LocalService echoService;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        server.close();
        transport.close();
    }

    private TunnelClient client(Path ca, String... endpoints) throws Exception {
        List<TunnelEndpoint> ways = new ArrayList<>();
        for (String e : endpoints) {
            ways.add(TunnelEndpoint.parse(e));
        }
        TunnelClient c = new TunnelClient(TunnelClientConfig.of(ways, "id1", SECRET, 1, List.of(echoService),
                TunnelClientConfig.Tls.of(ca, null)), transport);
        closing.add(c);
        c.start();
        return c;
    }

    private String url(String transport) {
        return transport + "://127.0.0.1:" + server.address().getPort() + (transport.startsWith("ws") ? "/_titan/tunnel" : "");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tcp", "tls", "ws", "wss"})
    void eachTransportCarriesBytesIntact(String t) throws Exception {
        TunnelClient c = client(certs.certPem(), url(t));
        await().atMost(Duration.ofSeconds(10)).until(() -> c.connectedTunnels() == 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> !server.exposedPorts("id1").isEmpty());
        long size = 4L << 20; // paranoid leak detection tracks every frame: WebSocket framing makes many
        try (Socket s = new Socket("127.0.0.1", exposed)) {
            s.setSoTimeout(20_000);
            CompletableFuture<Long> sent = CompletableFuture.supplyAsync(() -> {
                try {
                    return TunnelFixture.writeRandom(s.getOutputStream(), size, 7);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            long[] got = TunnelFixture.readAll(s.getInputStream(), size);
            assertThat(got[0]).isEqualTo(size);
            assertThat(got[1]).as("checksum over %s", t).isEqualTo(sent.get(20, TimeUnit.SECONDS));
        }
    }

    @Test
    void aServerCertificateTheClientDoesNotTrustIsRefused() throws Exception {
        TestCerts other = TestCerts.make(dir.resolve("other"), "other.test", "dns:other.test,ip:127.0.0.1");
        TunnelClient c = client(other.certPem(), url("wss"), url("tls"));
        Thread.sleep(2_000);
        assertThat(c.connectedTunnels()).isZero();
        assertThat(server.sessions("id1")).isEmpty();
    }

    @Test
    void aNameTheCertificateDoesNotCoverIsRefused() throws Exception {
        TunnelClient c = new TunnelClient(TunnelClientConfig.of(List.of(TunnelEndpoint.parse(url("tls"))), "id1", SECRET, 1,
                List.of(echoService), TunnelClientConfig.Tls.of(certs.certPem(), "elsewhere.test")), transport);
        closing.add(c);
        c.start();
        Thread.sleep(2_000);
        assertThat(c.connectedTunnels()).isZero();
    }

    @Test
    void severalWaysToOneServerTheOneThatWorksIsKept() throws Exception {
        // the first way leads to something that accepts and hangs up: the client moves on to wss, and stays with it
        TestServers.TcpServer broken = new TestServers.TcpServer("hangs-up", s -> { });
        closing.add(broken);
        TunnelClient c = client(certs.certPem(), "tls://127.0.0.1:" + broken.port(), url("wss"));
        await().atMost(Duration.ofSeconds(15)).until(() -> c.connectedTunnels() == 1);
        long triedBroken = broken.accepted();
        assertThat(triedBroken).isGreaterThanOrEqualTo(1);
        for (int i = 0; i < 3; i++) {
            server.sessions("id1").getFirst().channel().close(); // the tunnel drops: the client redials
            await().atMost(Duration.ofSeconds(15)).until(() -> c.connectedTunnels() == 1 && server.sessions("id1").size() == 1);
        }
        assertThat(broken.accepted()).as("redials go straight to the way that worked").isEqualTo(triedBroken);
    }

    @Test
    void httpsToAnHttpServiceEndsTlsAtTheServer() throws Exception {
        TestServers.TcpServer web = TestServers.http("hello over https", 0);
        closing.add(web);
        TunnelClient c = new TunnelClient(TunnelClientConfig.of(List.of(TunnelEndpoint.parse(url("tcp"))), "id1", SECRET, 1,
                List.of(TunnelClientConfig.LocalService.http("web", web.address(), List.of())), null), transport);
        closing.add(c);
        c.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> c.connectedTunnels() == 1);
        int port = server.address().getPort();
        Process curl = new ProcessBuilder("curl", "-sS", "--max-time", "10", "--cacert", certs.certPem().toString(),
                "--resolve", "id1.tunnel.test:" + port + ":127.0.0.1", "https://id1.tunnel.test:" + port + "/")
                .redirectErrorStream(true).start();
        String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(curl.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(out).isEqualTo("hello over https");
    }

    @Test
    void aWebSocketUpgradeWithoutItsHeadersGetsA400() throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.address().getPort())) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write("GET /_titan/tunnel HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 400");
        }
        assertThat(Files.exists(certs.certPem())).isTrue();
    }
}
