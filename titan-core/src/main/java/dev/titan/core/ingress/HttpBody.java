package dev.titan.core.ingress;

import io.netty.buffer.ByteBuf;
import java.util.Locale;

/**
 * Where an HTTP/1.1 message body ends, found while its bytes pass through unchanged: a length
 * counted down, chunked coding followed chunk by chunk (sizes, data, trailers), or the end of the
 * connection. A proxy that keeps connections alive across messages needs exactly this: which bytes
 * belong to the current message, without decoding or copying them.
 *
 * <pre>{@code
 * HttpBody body = HttpBody.ofRequest(head);
 * ByteBuf part = body.take(in);                // the bytes of in that belong to this body, or null
 * if (part != null) out.write(part);
 * if (body.done()) { ... the next message starts at in.readerIndex() }
 * }</pre>
 * Framing is read strictly (RFC 9112 section 6 and 7.1): a chunk size that is not hex, a chunk not
 * followed by CRLF, a bare LF, or an oversized size line or trailer section is {@link Ingress.Malformed}.
 */
public final class HttpBody {
    /** The longest chunk-size line (with extensions) and the largest trailer section read. */
    public static final int MAX_LINE = 4096;
    public static final int MAX_TRAILERS = HttpHead.MAX_LENGTH;

    private enum State { LENGTH, UNTIL_CLOSE, SIZE, SIZE_EXT, SIZE_LF, DATA, DATA_CR, DATA_LF, TRAILER_START, TRAILER, TRAILER_LF, END_LF, DONE }

    private State state;
    private long remaining; // LENGTH, DATA: bytes left; SIZE: the size read so far
    private int digits;
    private int lineLength;
    private int trailerLength;

    private HttpBody(State state, long remaining) {
        this.state = remaining == 0 && state == State.LENGTH ? State.DONE : state;
        this.remaining = remaining;
    }

    /** No body. */
    public static HttpBody none() {
        return new HttpBody(State.DONE, 0);
    }

    /** The body of a request with {@code head}: chunked, Content-Length, or none (RFC 9112 section 6.3). */
    public static HttpBody ofRequest(HttpHead head) throws Ingress.Malformed {
        String te = head.header("transfer-encoding");
        if (te != null) {
            if (!lastCoding(te).equals("chunked")) {
                throw new Ingress.Malformed(400, "a request's Transfer-Encoding must end in chunked, got " + te);
            }
            return new HttpBody(State.SIZE, 0);
        }
        String cl = head.header("content-length");
        return cl == null ? none() : new HttpBody(State.LENGTH, length(cl));
    }

    /**
     * The body of a response with {@code head} to a request with {@code method}: none for HEAD and
     * for 1xx, 204 and 304; chunked when that is the last coding; else Content-Length; else it
     * runs until the connection closes.
     */
    public static HttpBody ofResponse(HttpHead head, String method) throws Ingress.Malformed {
        int status = head.status();
        if (method.equals("HEAD") || status < 200 || status == 204 || status == 304) {
            return none();
        }
        String te = head.header("transfer-encoding");
        if (te != null) {
            return lastCoding(te).equals("chunked") ? new HttpBody(State.SIZE, 0) : new HttpBody(State.UNTIL_CLOSE, 0);
        }
        String cl = null;
        for (String[] h : head.headers()) {
            if (h[0].equalsIgnoreCase("content-length")) {
                if (cl != null && !cl.equals(h[1])) {
                    throw new Ingress.Malformed(502, "two different Content-Length headers");
                }
                cl = h[1];
            }
        }
        return cl == null ? new HttpBody(State.UNTIL_CLOSE, 0) : new HttpBody(State.LENGTH, length(cl));
    }

    private static String lastCoding(String te) {
        int comma = te.lastIndexOf(',');
        return te.substring(comma + 1).strip().toLowerCase(Locale.ROOT);
    }

    private static long length(String value) throws Ingress.Malformed {
        if (!value.matches("[0-9]{1,18}")) {
            throw new Ingress.Malformed(400, "not a Content-Length: " + value);
        }
        return Long.parseLong(value);
    }

    /**
     * Consumes the bytes of {@code in} that belong to this body and returns them (a retained
     * slice, for the caller to pass on), or null when none of them do.
     */
    public ByteBuf take(ByteBuf in) throws Ingress.Malformed {
        int n = scan(in);
        return n == 0 ? null : in.readRetainedSlice(n);
    }

    /** Whether the body has ended. */
    public boolean done() {
        return state == State.DONE;
    }

    /** Whether the body ends only with the connection (a response without a length). */
    public boolean untilClose() {
        return state == State.UNTIL_CLOSE;
    }

    /**
     * How many of {@code in}'s readable bytes, from its reader index, belong to this body (nothing
     * is consumed); the state moves past them, so the caller passes exactly those bytes on.
     */
    public int scan(ByteBuf in) throws Ingress.Malformed {
        int start = in.readerIndex();
        int end = in.writerIndex();
        int i = start;
        while (i < end && state != State.DONE) {
            switch (state) {
                case UNTIL_CLOSE -> i = end;
                case LENGTH, DATA -> {
                    int n = (int) Math.min(remaining, end - i);
                    i += n;
                    remaining -= n;
                    if (remaining == 0) {
                        state = state == State.LENGTH ? State.DONE : State.DATA_CR;
                    }
                }
                default -> step(in.getByte(i++));
            }
        }
        return i - start;
    }

    private void step(byte b) throws Ingress.Malformed {
        switch (state) {
            case SIZE -> {
                int v = Character.digit(b, 16);
                if (v >= 0 && digits < 15) {
                    remaining = remaining * 16 + v;
                    digits++;
                } else if (digits > 0 && (b == ';' || b == ' ' || b == '\t')) {
                    state = State.SIZE_EXT;
                } else if (digits > 0 && b == '\r') {
                    state = State.SIZE_LF;
                } else {
                    throw new Ingress.Malformed(400, v >= 0 ? "a chunk size too large" : "not a chunk size");
                }
                line();
            }
            case SIZE_EXT -> {
                if (b == '\r') {
                    state = State.SIZE_LF;
                } else if (b == '\n') {
                    throw new Ingress.Malformed(400, "a chunk size line ends with a bare LF");
                }
                line();
            }
            case SIZE_LF -> {
                expect(b, '\n');
                lineLength = 0;
                digits = 0;
                state = remaining == 0 ? State.TRAILER_START : State.DATA;
            }
            case DATA_CR -> {
                expect(b, '\r');
                state = State.DATA_LF;
            }
            case DATA_LF -> {
                expect(b, '\n');
                state = State.SIZE;
            }
            case TRAILER_START -> {
                state = b == '\r' ? State.END_LF : State.TRAILER;
                trailer();
            }
            case TRAILER -> {
                if (b == '\r') {
                    state = State.TRAILER_LF;
                } else if (b == '\n') {
                    throw new Ingress.Malformed(400, "a trailer line ends with a bare LF");
                }
                trailer();
            }
            case TRAILER_LF -> {
                expect(b, '\n');
                state = State.TRAILER_START;
            }
            case END_LF -> {
                expect(b, '\n');
                state = State.DONE;
            }
            default -> throw new IllegalStateException(state.toString());
        }
    }

    private void line() throws Ingress.Malformed {
        if (++lineLength > MAX_LINE) {
            throw new Ingress.Malformed(400, "a chunk size line longer than " + MAX_LINE + " bytes");
        }
    }

    private void trailer() throws Ingress.Malformed {
        if (++trailerLength > MAX_TRAILERS) {
            throw new Ingress.Malformed(400, "trailers larger than " + MAX_TRAILERS + " bytes");
        }
    }

    private static void expect(byte b, char wanted) throws Ingress.Malformed {
        if (b != wanted) {
            throw new Ingress.Malformed(400, wanted == '\n' ? "CR not followed by LF in chunked coding" : "a chunk's data not followed by CRLF");
        }
    }
}
