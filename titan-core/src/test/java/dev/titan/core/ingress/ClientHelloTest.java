package dev.titan.core.ingress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.titan.core.testing.ClientHellos;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

/** Server names read from real ClientHellos (the JDK's TLS client), whole, in pieces and re-framed; bad hellos are refused. */
class ClientHelloTest {
    static byte[] hello(String name) throws Exception {
        return ClientHellos.of(name);
    }

    @Test
    void readsTheNameOfARealHello() throws Exception {
        ByteBuf in = Unpooled.wrappedBuffer(hello("App.Example.org"));
        assertThat(ClientHello.serverName(in)).isEqualTo("app.example.org");
        assertThat(in.readerIndex()).as("nothing consumed").isZero();
    }

    @Test
    void aHelloWithoutANameGivesEmpty() throws Exception {
        assertThat(ClientHello.serverName(Unpooled.wrappedBuffer(hello(null)))).isEmpty();
    }

    @Test
    void waitsForEveryByteOfTheHello() throws Exception {
        byte[] h = hello("a.example");
        for (int n : new int[] {0, 1, 4, 5, 9, h.length / 2, h.length - 1}) {
            assertThat(ClientHello.serverName(Unpooled.wrappedBuffer(h, 0, n))).as("%d of %d bytes", n, h.length).isNull();
        }
    }

    @Test
    void readsAHelloSplitAcrossRecords() throws Exception {
        byte[] h = hello("split.example");
        int body = h.length - 5;
        int first = body / 3;
        ByteBuf in = Unpooled.buffer();
        in.writeBytes(h, 0, 3).writeShort(first).writeBytes(h, 5, first); // record 1
        in.writeBytes(h, 0, 3).writeShort(body - first).writeBytes(h, 5 + first, body - first); // record 2
        assertThat(ClientHello.serverName(in.slice(0, in.readableBytes() - 1))).as("record 2 incomplete").isNull();
        assertThat(ClientHello.serverName(in)).isEqualTo("split.example");
    }

    @Test
    void aHelloDeclaringMoreThan64KiBIsMalformed() {
        ByteBuf in = Unpooled.buffer().writeByte(22).writeShort(0x0301).writeShort(16_384)
                .writeByte(1).writeMedium(ClientHello.MAX_LENGTH + 1);
        assertThatThrownBy(() -> ClientHello.serverName(in)).isInstanceOf(Ingress.Malformed.class).hasMessageContaining("65537");
    }

    @Test
    void recordsThatAreNotAHelloAreMalformed() {
        assertThatThrownBy(() -> ClientHello.serverName(Unpooled.wrappedBuffer(new byte[] {23, 3, 3, 0, 10})))
                .isInstanceOf(Ingress.Malformed.class).hasMessageContaining("not a TLS handshake");
        assertThatThrownBy(() -> ClientHello.serverName(Unpooled.wrappedBuffer(new byte[] {22, 3, 1, 0, 4, 2, 0, 0, 0})))
                .isInstanceOf(Ingress.Malformed.class).hasMessageContaining("not a ClientHello");
        // a hello whose fields run past its end
        assertThatThrownBy(() -> ClientHello.serverName(Unpooled.wrappedBuffer(new byte[] {22, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 0, 0})))
                .isInstanceOf(Ingress.Malformed.class).hasMessageContaining("shorter than its fields");
    }

    @Test
    void aRealJdkHelloGivesItsNameAlpnAndAJa3Fingerprint() throws Exception {
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(null, null, null);
        javax.net.ssl.SSLEngine engine = ctx.createSSLEngine("app.example.org", 443);
        engine.setUseClientMode(true);
        javax.net.ssl.SSLParameters params = engine.getSSLParameters();
        params.setServerNames(java.util.List.of(new javax.net.ssl.SNIHostName("app.example.org")));
        params.setApplicationProtocols(new String[] {"h2", "http/1.1"});
        engine.setSSLParameters(params);
        java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(java.nio.ByteBuffer.allocate(0), out);
        out.flip();
        io.netty.buffer.ByteBuf hello = io.netty.buffer.Unpooled.wrappedBuffer(out);
        ClientHello.Fingerprint f = ClientHello.fingerprint(hello);
        org.assertj.core.api.Assertions.assertThat(f.serverName()).isEqualTo("app.example.org");
        org.assertj.core.api.Assertions.assertThat(f.alpn()).containsExactly("h2", "http/1.1");
        org.assertj.core.api.Assertions.assertThat(f.ja3()).startsWith("771,").matches("771,[0-9-]+,[0-9-]+,[0-9-]*,[0-9-]*");
        org.assertj.core.api.Assertions.assertThat(f.ja3Md5()).hasSize(32);
        org.assertj.core.api.Assertions.assertThat(hello.readerIndex()).as("read without consuming").isZero();
        org.assertj.core.api.Assertions.assertThat(ClientHello.fingerprint(hello.slice(0, 20))).as("incomplete").isNull();
    }
}
