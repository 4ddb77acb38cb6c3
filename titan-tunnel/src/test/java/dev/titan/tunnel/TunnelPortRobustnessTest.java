package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.titan.core.engine.ClusterRegistry;
import dev.titan.core.metrics.TitanMetrics;
import dev.titan.core.net.Transport;
import io.micrometer.core.instrument.Counter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Bad input on the tunnel port, from real sockets: each bad connection is answered or closed on its
 * own, counted, and never logged with a stack trace; the port goes on serving.
 */
class TunnelPortRobustnessTest {
    private static final String SECRET = "robust-secret";

    private Transport transport;
    private TunnelServer server;
    private final TitanMetrics metrics = new TitanMetrics();
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

    @BeforeEach
    void setUp() {
        transport = Transport.create(Transport.Kind.NIO, 2);
        TunnelServerConfig.User user = new TunnelServerConfig.User("id1", SECRET.getBytes(StandardCharsets.UTF_8), List.of(), List.of(), 2);
        server = new TunnelServer(new TunnelServerConfig(new InetSocketAddress("127.0.0.1", 0), "127.0.0.1", List.of(user),
                TunnelSettings.DEFAULTS, Duration.ofMinutes(1), "tunnel.test"), transport, ClusterRegistry.NONE, metrics);
        server.start();
        logged.start();
        root.addAppender(logged);
    }

    @AfterEach
    void tearDown() {
        root.detachAppender(logged);
        server.close();
        transport.close();
    }

    private Socket open() throws IOException {
        Socket s = new Socket("127.0.0.1", server.address().getPort());
        s.setSoTimeout(5_000);
        return s;
    }

    private String exchange(String request) throws IOException {
        try (Socket s = open()) {
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    private double errors(String kind) {
        Counter c = metrics.registry().find("titan.errors").tags("listener", TunnelServer.LISTENER, "kind", kind).counter();
        return c == null ? 0 : c.count();
    }

    private List<ILoggingEvent> loud() {
        return logged.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN) || e.getThrowableProxy() != null).toList();
    }

    @Test
    void oversizedClientHellosCloseQuietlyEachCountedAsMalformed() throws Exception {
        ByteBuf hello = Unpooled.buffer().writeByte(22).writeShort(0x0301).writeShort(16_384).writeByte(1).writeMedium(100_000);
        byte[] bytes = new byte[hello.readableBytes()];
        hello.readBytes(bytes).release();
        for (int i = 0; i < 100; i++) {
            try (Socket s = open()) {
                s.getOutputStream().write(bytes);
                assertThat(s.getInputStream().read()).as("closed without an answer").isEqualTo(-1);
            }
        }
        assertThat(errors("malformed")).isEqualTo(100);
        assertThat(loud()).as("nothing logged above debug, no stack trace").isEmpty();
        assertThat(exchange("GET / HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n")).as("still serving").startsWith("HTTP/1.1 404");
    }

    @Test
    void ambiguousRequestsAreRefusedWith400NotRelayed() throws Exception {
        for (String bad : List.of(
                "GET / HTTP/1.1\r\nHost: id1.tunnel.test\r\nHost: other.example\r\n\r\n",
                "GET / HTTP/1.1\r\nHost : id1.tunnel.test\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: id1.tunnel.test\r\nX-Folded: a\r\n b\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: id1.tunnel.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")) {
            assertThat(exchange(bad)).as(bad).startsWith("HTTP/1.1 400 Bad Request\r\n");
        }
        long start = System.nanoTime();
        try (Socket s = open()) {
            s.getOutputStream().write("GET / HTTP/1.1\nHost: id1.tunnel.test\n\n".getBytes(StandardCharsets.ISO_8859_1));
            assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 400")
                    .contains("bare LF");
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("answered, not left to the head timeout").isLessThan(Duration.ofSeconds(4));
        assertThat(errors("malformed")).isEqualTo(5);
        assertThat(loud()).isEmpty();
    }

    @Test
    void aConfiguredClientWithNoTunnelAnswers503WithTheReason() throws Exception {
        assertThat(exchange("GET / HTTP/1.1\r\nHost: id1.tunnel.test\r\n\r\n")).startsWith("HTTP/1.1 503 Service Unavailable\r\n")
                .endsWith("no tunnel of client id1 is connected; try again later\n");
        assertThat(exchange("GET / HTTP/1.1\r\nHost: id9.tunnel.test\r\n\r\n")).as("an id nobody configured").startsWith("HTTP/1.1 404");
    }

    @Test
    void aMalformedStreamFrameClosesOnlyItsTunnel() throws Exception {
        byte[][] bad = {
                {0, 0, 1, MuxFrames.OPEN, 0, 0, 0, 0, 1, 0}, // a client may not open streams
                {0, 0, 4, MuxFrames.WINDOW, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // a window increment of 0
                {0, 0, 3, MuxFrames.PING, 0, 0, 0, 0, 0, 1, 2, 3}, // a PING of 3 bytes
                {(byte) 0xff, (byte) 0xff, (byte) 0xff, MuxFrames.REPLY, 0, 0, 0, 0, 1}, // a head of 16 MiB
        };
        for (byte[] frame : bad) {
            try (Socket s = open()) {
                assertThat(handshake(s, SECRET).ok()).isTrue();
                s.getOutputStream().write(frame);
                assertThat(s.getInputStream().read()).as("the tunnel is closed").isEqualTo(-1);
            }
        }
        try (Socket s = open()) {
            assertThat(handshake(s, SECRET).ok()).as("the port goes on serving").isTrue();
        }
        assertThat(loud()).isEmpty();
    }

    /** Sends a tunnel handshake with {@code secret}; returns the server's result. */
    private TunnelProtocol.Result handshake(Socket s, String secret) throws IOException {
        OutputStream out = s.getOutputStream();
        DataInputStream in = new DataInputStream(s.getInputStream());
        out.write(TunnelProtocol.MAGIC);
        out.write(TunnelProtocol.VERSION);
        TunnelProtocol.Challenge challenge = read(in, TunnelProtocol.Challenge.class);
        String proof = TunnelProtocol.proof(secret.getBytes(StandardCharsets.UTF_8), challenge.nonce(), "id1");
        ByteBuf auth = TunnelProtocol.encode(ByteBufAllocator.DEFAULT, new TunnelProtocol.Auth(TunnelProtocol.VERSION, "id1", proof, null, null, null, null));
        byte[] bytes = new byte[auth.readableBytes()];
        auth.readBytes(bytes).release();
        out.write(bytes);
        return read(in, TunnelProtocol.Result.class);
    }

    private static <T> T read(DataInputStream in, Class<T> type) throws IOException {
        int len = in.readUnsignedShort();
        byte[] body = new byte[len];
        in.readFully(body);
        ByteBuf buf = Unpooled.buffer(len + 2).writeShort(len).writeBytes(body);
        try {
            return TunnelProtocol.decode(buf, type);
        } finally {
            buf.release();
        }
    }

    @Test
    void aClientOfAnotherProtocolVersionIsToldWhichVersionTheServerSpeaks() throws Exception {
        try (Socket s = open()) {
            s.getOutputStream().write(TunnelProtocol.MAGIC);
            s.getOutputStream().write(1); // version 1: HTTP/2 streams
            TunnelProtocol.Result r = read(new DataInputStream(s.getInputStream()), TunnelProtocol.Result.class);
            assertThat(r.ok()).isFalse();
            assertThat(r.reason()).isEqualTo("unsupported tunnel version 1 (server speaks " + TunnelProtocol.VERSION + ")");
            assertThat(s.getInputStream().read()).as("closed after the answer").isEqualTo(-1);
        }
        assertThat(server.handshakeFailures().get("malformed")).isEqualTo(1);
        assertThat(loud()).isEmpty();
    }

    @Test
    void aRefusedHandshakeIsAnsweredAtOnceAndTheNextGuessWaitsItsTurn() throws Exception {
        long start = System.nanoTime();
        try (Socket s = open()) {
            TunnelProtocol.Result r = handshake(s, "wrong-guess");
            assertThat(r.ok()).isFalse();
            assertThat(r.retryAfterMs()).isEqualTo(250);
            assertThat(s.getInputStream().read()).as("closed right after the answer").isEqualTo(-1);
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("not held for the delay").isLessThan(Duration.ofSeconds(2));
        try (Socket s = open()) {
            TunnelProtocol.Result r = handshake(s, SECRET);
            assertThat(r.ok()).as("within the delay even the right secret is not checked").isFalse();
            assertThat(r.reason()).contains("too many failed handshakes");
        }
        Thread.sleep(300); // the delay passes
        try (Socket s = open()) {
            assertThat(handshake(s, SECRET).ok()).as("after the delay the right secret is accepted").isTrue();
        }
        assertThat(server.handshakeFailures().get("unknown_or_bad_secret")).isEqualTo(2);
    }

    @Test
    void parallelHandshakesFromOneAddressAreCapped() throws Exception {
        Socket[] held = new Socket[HandshakeGuard.MAX_CONCURRENT + 2];
        try {
            for (int i = 0; i < held.length; i++) {
                held[i] = open();
                held[i].getOutputStream().write(TunnelProtocol.MAGIC); // a handshake begun and left hanging
            }
            int closed = 0;
            for (Socket s : held) {
                try {
                    s.getOutputStream().write(TunnelProtocol.VERSION);
                    if (s.getInputStream().read() == -1) { // else the first byte of its challenge: under way
                        closed++;
                    }
                } catch (IOException e) { // reset: closed before the version arrived
                    closed++;
                }
            }
            assertThat(closed).as("those past %d at once are closed", HandshakeGuard.MAX_CONCURRENT).isEqualTo(2);
            assertThat(server.handshakeFailures().get("busy")).isEqualTo(2);
        } finally {
            for (Socket s : held) {
                if (s != null) {
                    s.close();
                }
            }
        }
    }
}
