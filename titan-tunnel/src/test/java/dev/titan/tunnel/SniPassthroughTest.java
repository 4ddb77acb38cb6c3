package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.titan.core.net.Transport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS passthrough: a real TLS server behind the tunnel, a client that verifies its certificate end to end. */
class SniPassthroughTest {
    private static final String SECRET = "s3cret-for-tests";

    @TempDir
    Path dir;
    private Transport transport;
    private TunnelServer server;
    private TunnelClient client;
    private SSLServerSocket tlsServer;

    @BeforeEach
    void setUp() throws Exception {
        KeyStore store = TestCerts.make(dir, "secure.tls.test", "dns:secure.tls.test").store(); // a real certificate for the service
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(store, TestCerts.PASS);
        SSLContext serverCtx = SSLContext.getInstance("TLS");
        serverCtx.init(kmf.getKeyManagers(), null, null);
        tlsServer = (SSLServerSocket) serverCtx.getServerSocketFactory().createServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().start(() -> {
            while (!tlsServer.isClosed()) {
                try (Socket s = tlsServer.accept()) {
                    s.getOutputStream().write("hello over end-to-end TLS\n".getBytes(StandardCharsets.US_ASCII));
                    s.getOutputStream().flush();
                    s.getInputStream().read(); // until the client closes
                } catch (IOException e) {
                    // closed at the end of the test, or a client that failed its handshake
                }
            }
        });
        trustStore = store;

        transport = Transport.create(Transport.Kind.NIO, 2);
        TunnelServerConfig.User user = new TunnelServerConfig.User("id1", SECRET.getBytes(StandardCharsets.UTF_8), List.of(),
                List.of("secure.tls.test"), 4);
        server = new TunnelServer(new TunnelServerConfig(new InetSocketAddress("127.0.0.1", 0), "127.0.0.1", List.of(user),
                TunnelSettings.DEFAULTS, Duration.ofMinutes(1), null), transport);
        server.start();
        client = new TunnelClient(TunnelClientConfig.of(server.address(), "id1", SECRET, 1, List.of(TunnelClientConfig.LocalService.tls(
                "secure", (InetSocketAddress) tlsServer.getLocalSocketAddress(), List.of("secure.tls.test")))), transport);
        client.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 1);
    }

    private KeyStore trustStore;

    @AfterEach
    void tearDown() throws Exception {
        client.close();
        server.close();
        tlsServer.close();
        transport.close();
    }

    private SSLSocket connect(String serverName) throws Exception {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trustStore);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        Socket plain = new Socket("127.0.0.1", server.address().getPort());
        plain.setSoTimeout(5_000);
        SSLSocket tls = (SSLSocket) ctx.getSocketFactory().createSocket(plain, serverName, server.address().getPort(), true);
        SSLParameters params = tls.getSSLParameters();
        params.setServerNames(List.of(new SNIHostName(serverName)));
        params.setEndpointIdentificationAlgorithm("HTTPS"); // the certificate must be the service's own
        tls.setSSLParameters(params);
        return tls;
    }

    @Test
    void theServiceCertificateIsVerifiedThroughTheTunnel() throws Exception {
        try (SSLSocket tls = connect("secure.tls.test")) {
            tls.startHandshake();
            assertThat(tls.getSession().getPeerPrincipal().getName()).isEqualTo("CN=secure.tls.test");
            byte[] line = new byte[26];
            int n = tls.getInputStream().readNBytes(line, 0, line.length);
            assertThat(new String(line, 0, n, StandardCharsets.US_ASCII)).isEqualTo("hello over end-to-end TLS\n");
        }
        assertThat(server.streamsTotal()).isEqualTo(1);
    }

    @Test
    void aNameNoTunnelServesIsClosedWithoutAnswer() throws Exception {
        try (SSLSocket tls = connect("other.tls.test")) {
            assertThatThrownBy(tls::startHandshake).isInstanceOf(IOException.class);
        }
        try (SSLSocket tls = connect("secure.tls.test")) { // and the server still serves the right name
            tls.startHandshake();
            assertThat(tls.getSession().getPeerPrincipal().getName()).isEqualTo("CN=secure.tls.test");
        }
    }
}
