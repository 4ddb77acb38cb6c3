package dev.titan.core.ingress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A router that routes by Host reads the head strictly: what another parser could read differently is refused. */
class HttpHeadTest {
    private static ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
    }

    @Test
    void readsAPlainHead() throws Exception {
        ByteBuf in = bytes("GET /a/b?q=1 HTTP/1.1\r\nHost: App.Example:8080\r\nUpgrade: h2c, WebSocket\r\n\r\nBODY");
        HttpHead h = HttpHead.read(in);
        assertThat(h.method()).isEqualTo("GET");
        assertThat(h.target()).isEqualTo("/a/b?q=1");
        assertThat(h.path()).isEqualTo("/a/b");
        assertThat(h.version()).isEqualTo("HTTP/1.1");
        assertThat(h.host()).isEqualTo("app.example");
        assertThat(h.hasToken("upgrade", "websocket")).isTrue();
        assertThat(h.length()).isEqualTo(in.readableBytes() - 4);
        assertThat(in.readerIndex()).isZero();
    }

    @Test
    void waitsForTheBlankLine() throws Exception {
        assertThat(HttpHead.read(bytes("GET / HTTP/1.1\r\nHost: a\r\n"))).isNull();
        assertThat(HttpHead.read(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r"))).isNull();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "two Host headers|GET / HTTP/1.1\\r\\nHost: a\\r\\nHost: b\\r\\n\\r\\n|two Host headers",
            "space before the colon|GET / HTTP/1.1\\r\\nHost : a\\r\\n\\r\\n|whitespace",
            "folded line|GET / HTTP/1.1\\r\\nHost: a\\r\\nX-A: 1\\r\\n 2\\r\\n\\r\\n|folded",
            "CL with TE|POST / HTTP/1.1\\r\\nHost: a\\r\\nContent-Length: 3\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n|Content-Length together",
            "two lengths|POST / HTTP/1.1\\r\\nHost: a\\r\\nContent-Length: 3\\r\\nContent-Length: 4\\r\\n\\r\\n|Content-Length",
            "no Host in 1.1|GET / HTTP/1.1\\r\\nAccept: */*\\r\\n\\r\\n|no Host",
            "not a request line|HELLO\\r\\nHost: a\\r\\n\\r\\n|request line",
            "HTTP/2 preface|PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n|request line",
            "no colon|GET / HTTP/1.1\\r\\nHost a\\r\\n\\r\\n|without a colon"})
    void refusesAmbiguousHeads(String what, String head, String message) {
        assertThatThrownBy(() -> HttpHead.read(bytes(head.replace("\\r", "\r").replace("\\n", "\n"))))
                .isInstanceOf(Ingress.Malformed.class).hasMessageContaining(message)
                .satisfies(e -> assertThat(((Ingress.Malformed) e).status()).isEqualTo(400));
    }

    @Test
    void aBareLfIsRefusedAtOnceNotWaitedFor() {
        // a client that ends its lines with LF alone would never send CRLF CRLF
        assertThatThrownBy(() -> HttpHead.read(bytes("GET / HTTP/1.1\nHost: a\n"))).isInstanceOf(Ingress.Malformed.class)
                .hasMessageContaining("bare LF");
        assertThatThrownBy(() -> HttpHead.read(bytes("GET / HTTP/1.1\r\nHost: a\rX"))).isInstanceOf(Ingress.Malformed.class)
                .hasMessageContaining("bare CR");
    }

    @Test
    void aHeadOver16KiBIs431() {
        ByteBuf in = bytes("GET / HTTP/1.1\r\nX: " + "a".repeat(HttpHead.MAX_LENGTH));
        assertThatThrownBy(() -> HttpHead.read(in)).isInstanceOf(Ingress.Malformed.class)
                .satisfies(e -> assertThat(((Ingress.Malformed) e).status()).isEqualTo(431));
    }

    @Test
    void forwardedHeadersAreThisHopsNotTheClients() throws Exception {
        HttpHead h = HttpHead.read(bytes("GET / HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 10.9.9.9\r\n"
                + "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\n\r\n"));
        String out = h.forwarded(new InetSocketAddress("127.0.0.7", 5000), false);
        assertThat(out).startsWith("GET / HTTP/1.1\r\n").endsWith("\r\n\r\n")
                .contains("X-Forwarded-For: 10.9.9.9, 127.0.0.7\r\n", "X-Forwarded-Proto: http\r\n", "X-Forwarded-Host: a.example\r\n")
                .doesNotContain("https", "evil");
    }

    @Test
    void readsAStatusLine() throws Exception {
        HttpHead h = HttpHead.readResponse(bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"));
        assertThat(h.status()).isEqualTo(101);
        assertThat(h.header("UPGRADE")).isEqualTo("websocket");
    }
}
