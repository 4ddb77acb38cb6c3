package dev.titan.tunnel;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The head of a tunnel stream: what an OPEN names ({@link #TARGET}, and for the PROXY protocol who
 * connected and where to) and what its answer says ({@link #STATUS}, and on a refusal the error
 * type). A handful of name/value pairs, encoded as {@code u8 count}, then for each pair
 * {@code u8 name length, name, u16 value length, value} (UTF-8). {@code end}: the sender's output
 * ends with the head (a refusal).
 */
public final class MuxHead {
    /** What a stream opens: a published service's name, an edge's {@code host:port}, or {@link StreamTargets#DATAGRAMS}. */
    public static final String TARGET = "target";
    /** The answer: 200 (connected), 404 (no such service), 502 (cannot connect), 503 (busy). */
    public static final String STATUS = "status";

    static final int MAX_BYTES = 8192;

    private final List<String> fields; // name, value, name, value, ...
    private final boolean end;

    private MuxHead(List<String> fields, boolean end) {
        this.fields = fields;
        this.end = end;
    }

    /** A head with no fields yet. */
    public static MuxHead of(boolean end) {
        return new MuxHead(new ArrayList<>(4), end);
    }

    /** An answer with {@code status} and nothing else. */
    public static MuxHead status(String status, boolean end) {
        return of(end).set(STATUS, status);
    }

    /** Adds {@code name}: {@code value} (a null value adds nothing). */
    public MuxHead set(String name, String value) {
        if (value != null) {
            fields.add(name);
            fields.add(value);
        }
        return this;
    }

    /** The value of {@code name}, or null. */
    public String get(String name) {
        for (int i = 0; i < fields.size(); i += 2) {
            if (fields.get(i).equals(name)) {
                return fields.get(i + 1);
            }
        }
        return null;
    }

    public String status() {
        return get(STATUS);
    }

    public String target() {
        return get(TARGET);
    }

    /** Whether the sender's output ended with this head. */
    public boolean isEnd() {
        return end;
    }

    void encode(ByteBuf out) {
        int start = out.writerIndex();
        out.writeByte(fields.size() / 2);
        for (int i = 0; i < fields.size(); i += 2) {
            byte[] name = fields.get(i).getBytes(StandardCharsets.UTF_8);
            byte[] value = fields.get(i + 1).getBytes(StandardCharsets.UTF_8);
            if (name.length > 255 || value.length > 65_535) {
                throw new IllegalArgumentException("stream head field " + fields.get(i) + " too long");
            }
            out.writeByte(name.length).writeBytes(name).writeShort(value.length).writeBytes(value);
        }
        if (out.writerIndex() - start > MAX_BYTES || fields.size() / 2 > 255) {
            throw new IllegalArgumentException("stream head of " + (out.writerIndex() - start) + " bytes exceeds " + MAX_BYTES);
        }
    }

    /** Reads a head from {@code in}, all of which it must fill; a malformed one is a {@link MuxFrames.ProtocolException}. */
    static MuxHead decode(ByteBuf in, boolean end) {
        try {
            int count = in.readUnsignedByte();
            List<String> fields = new ArrayList<>(count * 2);
            for (int i = 0; i < count; i++) {
                fields.add(in.readCharSequence(in.readUnsignedByte(), StandardCharsets.UTF_8).toString());
                fields.add(in.readCharSequence(in.readUnsignedShort(), StandardCharsets.UTF_8).toString());
            }
            if (in.isReadable()) {
                throw new MuxFrames.ProtocolException("stream head: " + in.readableBytes() + " bytes beyond its fields");
            }
            return new MuxHead(fields, end);
        } catch (IndexOutOfBoundsException e) {
            throw new MuxFrames.ProtocolException("stream head: a field runs past the head's end");
        }
    }

    @Override
    public String toString() {
        return "MuxHead" + fields + (end ? " end" : "");
    }
}
