package dev.titan.core.ingress;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads the server name (SNI) of a TLS ClientHello without decrypting or consuming anything. The
 * hello may span several handshake records; one larger than {@value #MAX_LENGTH} bytes, a record
 * that is not a handshake, or lengths that do not add up are {@linkplain Ingress.Malformed malformed}.
 */
public final class ClientHello {
    /** The largest ClientHello read (a browser's, post-quantum key share included, is under 2 KiB). */
    public static final int MAX_LENGTH = 64 * 1024;
    private static final int RECORD_HEADER = 5;
    private static final int MAX_RECORD = 16_384 + 2_048; // TLSPlaintext, with the slack RFC 8446 allows ciphertext
    private static final byte HANDSHAKE = 22;
    private static final byte CLIENT_HELLO = 1;
    private static final int SERVER_NAME = 0;

    private ClientHello() {
    }

    /** Whether {@code first} can start a TLS handshake record. */
    public static boolean startsRecord(byte first) {
        return first == HANDSHAKE;
    }

    /**
     * The server name the hello at {@code in}'s reader index names: lower case, "" if it names
     * none, or null while the hello is incomplete.
     */
    public static String serverName(ByteBuf in) throws Ingress.Malformed {
        ByteBuf body = body(in);
        if (body == null) {
            return null;
        }
        try {
            return nameIn(body);
        } catch (IndexOutOfBoundsException e) {
            throw new Ingress.Malformed(400, "ClientHello shorter than its fields say");
        }
    }

    /**
     * What a client says about itself in its hello, for diagnostics ({@code [BROWSER_INFO]}): the
     * server name ("" for none), the ALPN protocols, and a JA3 fingerprint (TLS version, cipher
     * suites, extensions, groups and point formats, GREASE values left out) with its MD5. Null while
     * the hello is incomplete.
     */
    public record Fingerprint(String serverName, List<String> alpn, String ja3, String ja3Md5) {
    }

    public static Fingerprint fingerprint(ByteBuf in) throws Ingress.Malformed {
        ByteBuf b = body(in);
        if (b == null) {
            return null;
        }
        try {
            int version = b.readUnsignedShort();
            b.skipBytes(32);
            b.skipBytes(b.readUnsignedByte());
            ByteBuf suites = b.readSlice(b.readUnsignedShort());
            List<Integer> ciphers = new ArrayList<>();
            while (suites.readableBytes() >= 2) {
                ciphers.add(suites.readUnsignedShort());
            }
            b.skipBytes(b.readUnsignedByte());
            List<Integer> types = new ArrayList<>();
            List<Integer> groups = new ArrayList<>();
            List<Integer> formats = new ArrayList<>();
            List<String> alpn = new ArrayList<>();
            String name = "";
            if (b.isReadable()) {
                ByteBuf extensions = b.readSlice(b.readUnsignedShort());
                while (extensions.isReadable()) {
                    int type = extensions.readUnsignedShort();
                    ByteBuf ext = extensions.readSlice(extensions.readUnsignedShort());
                    types.add(type);
                    switch (type) {
                        case SERVER_NAME -> {
                            ByteBuf names = ext.readSlice(ext.readUnsignedShort());
                            if (names.isReadable() && names.readUnsignedByte() == 0) {
                                name = hostName(names.readSlice(names.readUnsignedShort()));
                            }
                        }
                        case ALPN -> {
                            ByteBuf list = ext.readSlice(ext.readUnsignedShort());
                            while (list.isReadable()) {
                                alpn.add(list.readSlice(list.readUnsignedByte()).toString(StandardCharsets.US_ASCII));
                            }
                        }
                        case SUPPORTED_GROUPS -> {
                            ByteBuf list = ext.readSlice(ext.readUnsignedShort());
                            while (list.readableBytes() >= 2) {
                                groups.add(list.readUnsignedShort());
                            }
                        }
                        case POINT_FORMATS -> {
                            ByteBuf list = ext.readSlice(ext.readUnsignedByte());
                            while (list.isReadable()) {
                                formats.add((int) list.readUnsignedByte());
                            }
                        }
                        default -> { }
                    }
                }
            }
            String ja3 = version + "," + join(ciphers) + "," + join(types) + "," + join(groups) + "," + join(formats);
            return new Fingerprint(name, List.copyOf(alpn), ja3, md5(ja3));
        } catch (IndexOutOfBoundsException e) {
            throw new Ingress.Malformed(400, "ClientHello shorter than its fields say");
        }
    }

    private static final int ALPN = 16;
    private static final int SUPPORTED_GROUPS = 10;
    private static final int POINT_FORMATS = 11;

    /** Values joined with '-', GREASE (RFC 8701: 0x?A?A) left out, as JA3 does. */
    private static String join(List<Integer> values) {
        StringBuilder sb = new StringBuilder();
        for (int v : values) {
            boolean grease = (v & 0x0F0F) == 0x0A0A && (v >> 8) == (v & 0xFF);
            if (!grease) {
                sb.append(sb.isEmpty() ? "" : "-").append(v);
            }
        }
        return sb.toString();
    }

    private static String md5(String s) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("MD5").digest(s.getBytes(StandardCharsets.US_ASCII)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The hello's body (after its 4-byte header) gathered from its records, or null while incomplete. */
    private static ByteBuf body(ByteBuf in) throws Ingress.Malformed {
        int at = in.readerIndex();
        int end = in.writerIndex();
        int helloLength = -1;
        int collected = 0;
        // pass 1: check the records and find whether the whole hello has arrived
        for (int r = at; ; ) {
            if (end - r < RECORD_HEADER) {
                return null;
            }
            if (in.getByte(r) != HANDSHAKE) {
                throw new Ingress.Malformed(400, "not a TLS handshake record");
            }
            if (in.getByte(r + 1) != 3) {
                throw new Ingress.Malformed(400, "not a TLS record version");
            }
            int length = in.getUnsignedShort(r + 3);
            if (length > MAX_RECORD || (r == at && length < 4)) {
                throw new Ingress.Malformed(400, "TLS record of " + length + " bytes");
            }
            int payload = r + RECORD_HEADER;
            if (helloLength < 0 && end - payload >= 4) {
                if (in.getByte(payload) != CLIENT_HELLO) {
                    throw new Ingress.Malformed(400, "the first TLS handshake message is not a ClientHello");
                }
                helloLength = in.getUnsignedMedium(payload + 1);
                if (helloLength > MAX_LENGTH) {
                    throw new Ingress.Malformed(400, "ClientHello of " + helloLength + " bytes (at most " + MAX_LENGTH + ")");
                }
            }
            if (end - payload < length) {
                return null;
            }
            collected += length;
            r = payload + length;
            if (helloLength >= 0 && collected >= helloLength + 4) {
                break;
            }
        }
        // pass 2: the hello's bytes without the record headers
        byte[] hello = new byte[helloLength + 4];
        int filled = 0;
        for (int r = at; filled < hello.length; ) {
            int length = in.getUnsignedShort(r + 3);
            int n = Math.min(length, hello.length - filled);
            in.getBytes(r + RECORD_HEADER, hello, filled, n);
            filled += n;
            r += RECORD_HEADER + length;
        }
        return Unpooled.wrappedBuffer(hello, 4, helloLength);
    }

    /** The server name in a ClientHello body (after its 4-byte header). */
    private static String nameIn(ByteBuf b) throws Ingress.Malformed {
        b.skipBytes(2 + 32); // version, random
        b.skipBytes(b.readUnsignedByte()); // session id
        b.skipBytes(b.readUnsignedShort()); // cipher suites
        b.skipBytes(b.readUnsignedByte()); // compression methods
        if (!b.isReadable()) {
            return ""; // no extensions
        }
        ByteBuf extensions = b.readSlice(b.readUnsignedShort());
        while (extensions.isReadable()) {
            int type = extensions.readUnsignedShort();
            ByteBuf ext = extensions.readSlice(extensions.readUnsignedShort());
            if (type != SERVER_NAME) {
                continue;
            }
            ByteBuf names = ext.readSlice(ext.readUnsignedShort());
            while (names.isReadable()) {
                int nameType = names.readUnsignedByte();
                ByteBuf name = names.readSlice(names.readUnsignedShort());
                if (nameType == 0) {
                    return hostName(name);
                }
            }
            return "";
        }
        return "";
    }

    private static String hostName(ByteBuf name) throws Ingress.Malformed {
        if (!name.isReadable() || name.readableBytes() > 255) {
            throw new Ingress.Malformed(400, "server name of " + name.readableBytes() + " bytes");
        }
        for (int i = name.readerIndex(); i < name.writerIndex(); i++) {
            byte c = name.getByte(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
            if (!ok) {
                throw new Ingress.Malformed(400, "server name is not a host name");
            }
        }
        return name.toString(StandardCharsets.US_ASCII).toLowerCase(Locale.ROOT);
    }
}
