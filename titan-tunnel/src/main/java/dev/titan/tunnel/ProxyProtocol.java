package dev.titan.tunnel;

import dev.titan.core.config.HostPort;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;

/**
 * The PROXY protocol header (HAProxy's, v1 text or v2 binary) that tells a local service who the
 * real user was, for services configured with {@code proxy_protocol}. Source and destination come
 * from the stream's headers (the user's address and the server address they connected to).
 */
final class ProxyProtocol {
    private static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

    private ProxyProtocol() {
    }

    /** The header for {@code version} (v1 or v2); the UNKNOWN / LOCAL form when the addresses are missing or of mixed families. */
    static ByteBuf header(ByteBufAllocator alloc, String version, CharSequence from, CharSequence to) {
        InetSocketAddress src = parse(from);
        InetSocketAddress dst = parse(to);
        boolean known = src != null && dst != null
                && (src.getAddress() instanceof Inet4Address) == (dst.getAddress() instanceof Inet4Address);
        ByteBuf buf = alloc.buffer(108);
        if ("v1".equals(version)) {
            String line = !known ? "PROXY UNKNOWN\r\n"
                    : "PROXY " + (src.getAddress() instanceof Inet4Address ? "TCP4 " : "TCP6 ") + src.getAddress().getHostAddress() + " "
                    + dst.getAddress().getHostAddress() + " " + src.getPort() + " " + dst.getPort() + "\r\n";
            buf.writeCharSequence(line, StandardCharsets.US_ASCII);
            return buf;
        }
        buf.writeBytes(V2_SIGNATURE);
        if (!known) {
            buf.writeByte(0x20); // version 2, LOCAL
            buf.writeByte(0x00);
            buf.writeShort(0);
            return buf;
        }
        boolean v4 = src.getAddress() instanceof Inet4Address;
        buf.writeByte(0x21); // version 2, PROXY
        buf.writeByte(v4 ? 0x11 : 0x21); // TCP over IPv4 / IPv6
        buf.writeShort(v4 ? 12 : 36);
        buf.writeBytes(src.getAddress().getAddress());
        buf.writeBytes(dst.getAddress().getAddress());
        buf.writeShort(src.getPort());
        buf.writeShort(dst.getPort());
        return buf;
    }

    private static InetSocketAddress parse(CharSequence text) {
        if (text == null) {
            return null;
        }
        try {
            HostPort.Parsed p = HostPort.parse(text.toString());
            // an IP literal from the server, never resolved through DNS
            return p.port() < 0 ? null : new InetSocketAddress(InetAddress.getByName(p.host()), p.port());
        } catch (IllegalArgumentException | UnknownHostException e) {
            return null;
        }
    }
}
