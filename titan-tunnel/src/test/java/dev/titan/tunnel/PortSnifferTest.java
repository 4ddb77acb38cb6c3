package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.titan.core.net.Transport;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Port sharing on the tunnel port: the first bytes pick the handler, and anything else is closed and counted. */
class PortSnifferTest {
    private final Transport transport = Transport.create(Transport.Kind.NIO, 1);
    private final TunnelServer server = new TunnelServer(new TunnelServerConfig(new InetSocketAddress("127.0.0.1", 0), "127.0.0.1",
            List.of(), TunnelSettings.DEFAULTS, Duration.ofMinutes(1), "tunnel.test"), transport);

    /** An embedded channel with an IP peer, as an accepted connection has. */
    private static final class Accepted extends EmbeddedChannel {
        @Override
        protected SocketAddress remoteAddress0() {
            return new InetSocketAddress("127.0.0.1", 40000);
        }
    }

    @AfterEach
    void tearDown() {
        server.close();
        transport.close();
    }

    private EmbeddedChannel sniff(byte[]... pieces) {
        EmbeddedChannel ch = new Accepted();
        ch.pipeline().addLast("sniff", new PortSniffer(server, false));
        for (byte[] p : pieces) {
            ch.writeInbound(Unpooled.wrappedBuffer(p));
        }
        return ch;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void eachOpeningGoesToItsHandler() {
        EmbeddedChannel tls = sniff(new byte[] {22, 3});
        assertThat(tls.pipeline().get("sni")).isInstanceOf(TunnelSniIngress.class);
        EmbeddedChannel tunnel = sniff(ascii("TT"), ascii("UN"));
        assertThat(tunnel.pipeline().get("handshake")).isInstanceOf(ServerHandshake.class);
        EmbeddedChannel http = sniff(ascii("OPTIO"), ascii("NS * HTTP/1.1\r\n"));
        assertThat(http.pipeline().get("http")).isInstanceOf(TunnelHttpIngress.class);
        EmbeddedChannel trace = sniff(ascii("T"), ascii("RACE / HTTP/1.1\r\n"));
        assertThat(trace.pipeline().get("http")).as("T could have been TTUN: decided on the second byte").isNotNull();
        for (EmbeddedChannel ch : List.of(tls, tunnel, http, trace)) {
            assertThat(ch.pipeline().get("sniff")).isNull();
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void waitsWhileTheOpeningIsUndecided() {
        EmbeddedChannel ch = sniff(ascii("CONNEC"));
        assertThat(ch.pipeline().get("sniff")).isNotNull();
        assertThat(ch.isOpen()).isTrue();
        ch.finishAndReleaseAll();
    }

    @Test
    void anythingElseIsClosedAndCountedAsMalformed() {
        for (byte[] junk : List.of(ascii("\u0000\u0001binary"), ascii("get / HTTP/1.1"), ascii("TOOLONGMETHOD / HTTP/1.1"), ascii("SSH-2.0-OpenSSH"))) {
            EmbeddedChannel ch = sniff(junk);
            assertThat(ch.isOpen()).as(new String(junk, StandardCharsets.US_ASCII)).isFalse();
            ch.checkException();
        }
        assertThat(server.handshakeFailures().get("malformed")).isEqualTo(4);
    }
}
