package dev.titan.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;

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

    /** Payloads up to this size are copied behind their header: one buffer, one write. */
    private static final int COPY_BELOW = 512;

    private MuxFrames() {
    }

    /** A DATA frame of {@code n} bytes of {@code data} (from its reader index; null: none) with FIN if {@code fin}. */
    static void writeData(ChannelHandlerContext ctx, int id, ByteBuf data, int n, boolean fin) {
        int flags = fin ? FIN : 0;
        if (n < COPY_BELOW) {
            ByteBuf frame = ctx.alloc().ioBuffer(HEADER + n);
            header(frame, n, DATA, flags, id);
            if (n > 0) {
                frame.writeBytes(data, data.readerIndex(), n);
            }
            ctx.write(frame, ctx.voidPromise());
            return;
        }
        ByteBuf header = ctx.alloc().ioBuffer(HEADER);
        ctx.write(header(header, n, DATA, flags, id), ctx.voidPromise());
        ctx.write(data.retainedSlice(data.readerIndex(), n), ctx.voidPromise());
    }

    /** A frame of {@code type} (OPEN or REPLY) carrying {@code head}, with FIN if the head ends the stream. */
    static void writeHead(ChannelHandlerContext ctx, int type, int id, MuxHead head) {
        ByteBuf frame = ctx.alloc().ioBuffer(64);
        frame.writerIndex(HEADER);
        try {
            head.encode(frame);
        } catch (RuntimeException e) {
            frame.release();
            throw e;
        }
        int length = frame.readableBytes() - HEADER;
        int end = frame.writerIndex();
        frame.writerIndex(0);
        header(frame, length, type, head.isEnd() ? FIN : 0, id);
        frame.writerIndex(end);
        ctx.write(frame, ctx.voidPromise());
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
