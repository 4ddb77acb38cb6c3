package dev.titan.bench;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * An HTTP/1.1 response reader for what the benchmarks' backends send: a status line, headers
 * and a body of Content-Length bytes (none without one), responses back to back in any
 * split across reads. It looks at header lines only, a line at a time, and skips bodies whole.
 */
final class ResponseReader {
    private static final byte[] CL = "content-length:".getBytes(StandardCharsets.US_ASCII);
    private byte[] line = new byte[256];
    private int lineLen;
    private long contentLength;
    private long bodyLeft = -1; // -1 while in the status line and headers

    /** Reads what {@code buf} holds and returns how many responses it completed. */
    int read(ByteBuf buf) {
        int done = 0;
        int i = buf.readerIndex();
        int end = buf.writerIndex();
        while (i < end) {
            if (bodyLeft < 0) {
                int lf = buf.indexOf(i, end, (byte) '\n');
                int stop = lf < 0 ? end : lf + 1;
                int n = stop - i;
                if (lineLen + n > line.length) {
                    line = Arrays.copyOf(line, Math.max(line.length * 2, lineLen + n));
                }
                buf.getBytes(i, line, lineLen, n);
                lineLen += n;
                i = stop;
                if (lf < 0) {
                    break;
                }
                if (lineLen <= 2) { // the empty line ending the headers
                    bodyLeft = contentLength;
                    contentLength = 0;
                } else if (contentLength == 0) {
                    contentLength = contentLength(line, lineLen);
                }
                lineLen = 0;
            } else {
                int n = (int) Math.min(bodyLeft, end - i);
                i += n;
                bodyLeft -= n;
            }
            if (bodyLeft == 0) {
                bodyLeft = -1;
                done++;
            }
        }
        return done;
    }

    /** The value of a Content-Length header line, 0 for any other line. */
    private static long contentLength(byte[] l, int len) {
        if (len < CL.length) {
            return 0;
        }
        for (int j = 0; j < CL.length; j++) {
            if ((l[j] | 0x20) != CL[j]) {
                return 0;
            }
        }
        long v = 0;
        for (int k = CL.length; k < len; k++) {
            byte c = l[k];
            if (c >= '0' && c <= '9') {
                v = v * 10 + (c - '0');
            } else if (c != ' ' && c != '\t') {
                break;
            }
        }
        return v;
    }
}
