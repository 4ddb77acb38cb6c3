package dev.titan.overlay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.titan.core.net.Transport;
import dev.titan.core.store.Store;
import dev.titan.core.testing.TestServers;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** 0-RTT: the PoP answers a SOCKS5 or HTTP CONNECT at once and sends the client's first bytes with the stream's open. */
class ZeroRttTest {
    private static final String SECRET = "edge-secret-for-tests";

    private Transport transport;
    private Pop pop;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void setUp() {
        transport = Transport.create(Transport.Kind.NIO, 2);
        pop = OverlayFixture.startPop(OverlayFixture.config(true, true, false,
                List.of(OverlayFixture.user("alice", "alice-password", Store.Limits.NONE)), new Pop.ZeroRtt(true, true, Duration.ofMillis(50)), null),
                transport, closing);
        OverlayFixture.startEdge(pop, "e1", Map.of(), List.of("127.0.0.0/8"), transport, closing);
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        transport.close();
    }

    /** Greets, logs in as alice and asks to CONNECT 127.0.0.1:port; returns the socket after the login's answer. */
    private Socket socks(int port) throws IOException {
        Socket s = new Socket("127.0.0.1", pop.address("socks").getPort());
        s.setSoTimeout(5_000);
        OutputStream out = s.getOutputStream();
        DataInputStream in = new DataInputStream(s.getInputStream());
        out.write(new byte[] {5, 1, 2});
        assertThat(in.readNBytes(2)).containsExactly(5, 2);
        byte[] user = "alice".getBytes(StandardCharsets.US_ASCII);
        byte[] pass = "alice-password".getBytes(StandardCharsets.US_ASCII);
        ByteArray login = new ByteArray().add(1, user.length).add(user).add(pass.length).add(pass);
        out.write(login.bytes());
        assertThat(in.readNBytes(2)).containsExactly(1, 0);
        out.write(new ByteArray().add(5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xFF).bytes());
        return s;
    }

    @Test
    void theConnectIsAnsweredAtOnceAndATargetThatRefusesClosesTheConnection() throws Exception {
        int closedPort;
        try (ServerSocket ss = new ServerSocket(0)) {
            closedPort = ss.getLocalPort();
        }
        try (Socket s = socks(closedPort)) {
            byte[] reply = s.getInputStream().readNBytes(10);
            assertThat(reply[1]).as("success, before the edge tried the target (off: reply 5, refused)").isEqualTo((byte) 0);
            s.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            assertThat(s.getInputStream().read()).as("then closed: the target refused").isEqualTo(-1);
        }
    }

    @Test
    void firstBytesTravelWithTheOpenAndAServerThatSpeaksFirstIsReachedAfterTheWait() throws Exception {
        try (TestServers.TcpServer echo = TestServers.echo("echo");
             TestServers.TcpServer banner = new TestServers.TcpServer("banner", s -> {
                 s.getOutputStream().write("220 ready\r\n".getBytes(StandardCharsets.US_ASCII));
                 s.getOutputStream().flush();
                 s.getInputStream().read();
             })) {
            try (Socket s = socks(echo.port())) {
                InputStream in = s.getInputStream();
                assertThat(in.readNBytes(10)[1]).isEqualTo((byte) 0);
                s.getOutputStream().write("first flight".getBytes(StandardCharsets.US_ASCII));
                assertThat(new String(in.readNBytes(12), StandardCharsets.US_ASCII)).isEqualTo("first flight");
            }
            try (Socket s = socks(banner.port())) {
                InputStream in = s.getInputStream();
                assertThat(in.readNBytes(10)[1]).isEqualTo((byte) 0);
                assertThat(new String(in.readNBytes(11), StandardCharsets.US_ASCII)).as("the client sent nothing").isEqualTo("220 ready\r\n");
            }
        }
    }

    @Test
    void anHttpConnectConfiguredForZeroRttIsAnsweredAtOnceToo() throws Exception {
        try (TestServers.TcpServer echo = TestServers.echo("echo");
             Socket s = new Socket("127.0.0.1", pop.address("http_proxy").getPort())) {
            s.setSoTimeout(5_000);
            String auth = java.util.Base64.getEncoder().encodeToString("alice:alice-password".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().write(("CONNECT 127.0.0.1:" + echo.port() + " HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic " + auth
                    + "\r\n\r\nping").getBytes(StandardCharsets.US_ASCII)); // first bytes in the same write as the CONNECT
            String answer = new String(s.getInputStream().readNBytes(43), StandardCharsets.US_ASCII);
            assertThat(answer).isEqualTo("HTTP/1.1 200 Connection established\r\n\r\nping");
        }
    }

    /** A small byte builder for the handshakes above. */
    private static final class ByteArray {
        private final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();

        ByteArray add(int... values) {
            for (int v : values) {
                out.write(v);
            }
            return this;
        }

        ByteArray add(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }
}
