package dev.titan.tunnel;

import io.netty.buffer.ByteBuf;

/**
 * The wire format of a tunnel's stream layer ({@link MuxSession}). Every frame is a 9-byte header,
 * {@code length u24 | type u8 | flags u8 | stream u32}, and its payload:
 * <pre>
 * DATA    bytes of a stream; flag FIN: the sender's output ends (a FIN in TCP terms)
 * OPEN    server → client: a new stream's {@link MuxHead} (its target)
 * REPLY   client → server: the answer's head (status); flag FIN: a refusal that ends the stream
 * WINDOW  u32: more bytes the receiver takes, on a stream or (stream 0) on the whole tunnel
 * RESET   u32 code: the stream ends; NO_ERROR: "my output is complete, I read no more"
 * PING    u64; flag ACK: the answer, with the same payload
 * GOAWAY  u32 code: the sender opens, or takes, no new stream
 * </pre>
 * The server opens odd stream ids, in increasing order. A frame of an unknown type is skipped, so a
 * newer peer may add some; one that breaks these rules is a {@link ProtocolException}.
 */
final class MuxFrames {
    static final int HEADER = 9;

    static final int DATA = 0;
    static final int OPEN = 1;
    static final int REPLY = 2;
    static final int WINDOW = 3;
    static final int RESET = 4;
    static final int PING = 5;
    static final int GOAWAY = 6;

    /** Flags: the end of a stream's output (DATA, REPLY); the answer to a PING. */
    static final int FIN = 1;
    static final int ACK = 1;

    /** RESET and GOAWAY codes. */
    static final int NO_ERROR = 0;
    static final int REFUSED = 7;
    static final int CANCEL = 8;

    private MuxFrames() {
    }

    /** Writes a frame's header to {@code frame}; its payload of {@code length} bytes follows. */
    static ByteBuf header(ByteBuf frame, int length, int type, int flags, int id) {
        return frame.writeMedium(length).writeByte(type).writeByte(flags).writeInt(id);
    }

    /** The fixed-size payload of a control frame, or a {@link ProtocolException} when it has another size. */
    static ByteBuf fixed(ByteBuf in, int length, int expected) {
        if (length != expected) {
            throw new ProtocolException("control frame of " + length + " bytes where " + expected + " belong");
        }
        return in;
    }

    /** A frame that breaks the protocol: closes its tunnel. */
    static final class ProtocolException extends RuntimeException {
        ProtocolException(String message) {
            super(message, null, false, false);
        }
    }
}
