package dev.titan.core.ingress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class HttpBodyTest {
    private static HttpHead request(String headers) throws Ingress.Malformed {
        ByteBuf b = ascii("POST /x HTTP/1.1\r\nHost: h\r\n" + headers + "\r\n");
        try {
            return HttpHead.read(b);
        } finally {
            b.release();
        }
    }

    private static HttpHead response(String statusAndHeaders) throws Ingress.Malformed {
        ByteBuf b = ascii("HTTP/1.1 " + statusAndHeaders + "\r\n");
        try {
            return HttpHead.readResponse(b);
        } finally {
            b.release();
        }
    }

    private static ByteBuf ascii(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
    }

    /** Feeds {@code wire} in pieces of {@code piece} bytes; returns how many belonged to the body, which must then be done. */
    private static int framed(HttpBody body, String wire, int piece) throws Ingress.Malformed {
        ByteBuf all = ascii(wire);
        int taken = 0;
        try {
            while (all.isReadable() && !body.done()) {
                ByteBuf part = all.readSlice(Math.min(piece, all.readableBytes()));
                int n = body.scan(part);
                taken += n;
                if (n < part.capacity()) {
                    break;
                }
            }
        } finally {
            all.release();
        }
        assertThat(body.done()).as("the body ended").isTrue();
        return taken;
    }

    @Test
    void aContentLengthBodyEndsAfterItsLength() throws Exception {
        assertThat(framed(HttpBody.ofRequest(request("Content-Length: 5\r\n")), "hello" + "GET /next", 3)).isEqualTo(5);
        assertThat(HttpBody.ofRequest(request("")).done()).as("a request without a length has no body").isTrue();
    }

    @Test
    void chunkedCodingIsFollowedThroughExtensionsAndTrailersInAnyPieces() throws Exception {
        String body = "5\r\nhello\r\n7;name=\"v\"\r\n, world\r\nA \r\n0123456789\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n";
        for (int piece : new int[] {1, 2, 7, 1000}) {
            assertThat(framed(HttpBody.ofRequest(request("Transfer-Encoding: chunked\r\n")), body + "NEXT", piece))
                    .as("pieces of %d", piece).isEqualTo(body.length());
        }
    }

    @Test
    void responsesWithoutABodyAndUntilClose() throws Exception {
        assertThat(HttpBody.ofResponse(response("200 OK\r\nContent-Length: 10\r\n"), "HEAD").done()).isTrue();
        assertThat(HttpBody.ofResponse(response("204 No Content\r\n"), "GET").done()).isTrue();
        assertThat(HttpBody.ofResponse(response("304 Not Modified\r\nContent-Length: 7\r\n"), "GET").done()).isTrue();
        assertThat(HttpBody.ofResponse(response("100 Continue\r\n"), "POST").done()).isTrue();
        assertThat(HttpBody.ofResponse(response("200 OK\r\n"), "GET").untilClose()).isTrue();
        assertThat(HttpBody.ofResponse(response("200 OK\r\nTransfer-Encoding: gzip\r\n"), "GET").untilClose()).isTrue();
        assertThat(framed(HttpBody.ofResponse(response("200 OK\r\nTransfer-Encoding: gzip, chunked\r\n"), "GET"), "0\r\n\r\n", 1)).isEqualTo(5);
    }

    @Test
    void badFramingIsMalformed() throws Exception {
        for (String wire : new String[] {"zz\r\n", "5\r\nhelloXY", "5\nhello\r\n", "\r\n", "1000000000000000\r\n"}) {
            HttpBody body = HttpBody.ofRequest(request("Transfer-Encoding: chunked\r\n"));
            ByteBuf b = ascii(wire);
            try {
                assertThatThrownBy(() -> body.scan(b)).as(wire).isInstanceOf(Ingress.Malformed.class);
            } finally {
                b.release();
            }
        }
        assertThatThrownBy(() -> HttpBody.ofRequest(request("Transfer-Encoding: gzip\r\n"))).hasMessageContaining("must end in chunked");
        assertThatThrownBy(() -> HttpBody.ofResponse(response("200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n"), "GET"))
                .hasMessageContaining("two different Content-Length");
    }
}
