package dev.titan.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ResponseReaderTest {
    private static final String NGINX = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
            + "Connection: keep-alive\r\n\r\nhello world\n";
    private static final String NO_BODY = "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n";
    private static final String UPPER = "HTTP/1.1 200 OK\r\nCONTENT-LENGTH:\t3\r\n\r\nabc";

    @Test
    void countsBackToBackResponsesHoweverTheyAreSplit() {
        String stream = NGINX + NO_BODY + UPPER + NGINX;
        byte[] bytes = stream.getBytes(StandardCharsets.US_ASCII);
        for (int chunk = 1; chunk <= bytes.length; chunk++) {
            ResponseReader reader = new ResponseReader();
            int done = 0;
            for (int at = 0; at < bytes.length; at += chunk) {
                done += readAndRelease(reader, Unpooled.wrappedBuffer(bytes, at, Math.min(chunk, bytes.length - at)));
            }
            assertThat(done).as("chunks of %d bytes", chunk).isEqualTo(4);
        }
    }

    @Test
    void aResponseIsDoneOnlyWithItsLastBodyByte() {
        ResponseReader reader = new ResponseReader();
        byte[] bytes = NGINX.getBytes(StandardCharsets.US_ASCII);
        assertThat(readAndRelease(reader, Unpooled.wrappedBuffer(bytes, 0, bytes.length - 1))).isZero();
        assertThat(readAndRelease(reader, Unpooled.wrappedBuffer(bytes, bytes.length - 1, 1))).isEqualTo(1);
    }

    @Test
    void headerLinesLongerThanTheLineBufferAreRead() {
        String big = "HTTP/1.1 200 OK\r\nX-Pad: " + "p".repeat(5000) + "\r\nContent-Length: 2\r\n\r\nok";
        ResponseReader reader = new ResponseReader();
        assertThat(readAndRelease(reader, Unpooled.copiedBuffer(big + big, StandardCharsets.US_ASCII))).isEqualTo(2);
    }

    @Test
    void sendTimesComeBackOldestFirstAcrossGrowth() {
        Times times = new Times();
        for (long i = -3; i < 3; i++) {
            times.add(i);
        }
        assertThat(times.poll()).isEqualTo(-3);
        for (long i = 3; i < 20; i++) {
            times.add(i);
        }
        for (long i = -2; i < 20; i++) {
            assertThat(times.poll()).isEqualTo(i);
        }
        assertThat(times.isEmpty()).isTrue();
    }

    private static int readAndRelease(ResponseReader reader, ByteBuf buf) {
        try {
            return reader.read(buf);
        } finally {
            buf.release();
        }
    }
}
