package dev.titan.overlay;

import io.netty.buffer.ByteBuf;
import io.netty.util.NetUtil;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/** A SOCKS5 address (RFC 1928: ATYP, then an IPv4 address, a name or an IPv6 address, then the port), as datagrams carry it. */
record SocksAddress(String host, int port) {
    static final int IPV4 = 1;
    static final int DOMAIN = 3;
    static final int IPV6 = 4;

    /** Reads one at {@code in}'s reader index and moves past it; throws {@link IllegalArgumentException} when it is not one. */
    static SocksAddress read(ByteBuf in) {
        if (!in.isReadable()) {
            throw new IllegalArgumentException("no address");
        }
        int atyp = in.readUnsignedByte();
        String host;
        switch (atyp) {
            case IPV4, IPV6 -> {
                byte[] a = new byte[atyp == IPV4 ? 4 : 16];
                if (in.readableBytes() < a.length + 2) {
                    throw new IllegalArgumentException("a short address");
                }
                in.readBytes(a);
                host = NetUtil.bytesToIpAddress(a);
            }
            case DOMAIN -> {
                int n = in.isReadable() ? in.readUnsignedByte() : 0;
                if (n == 0 || in.readableBytes() < n + 2) {
                    throw new IllegalArgumentException("a short or empty name");
                }
                host = in.readCharSequence(n, StandardCharsets.US_ASCII).toString();
            }
            default -> throw new IllegalArgumentException("address type " + atyp);
        }
        int port = in.readUnsignedShort();
        if (port == 0) {
            throw new IllegalArgumentException("port 0");
        }
        return new SocksAddress(host, port);
    }

    /** Writes {@code a} (an address, not a name) as ATYP, address, port. */
    static void write(ByteBuf out, InetSocketAddress a) {
        byte[] ip = a.getAddress().getAddress();
        out.writeByte(a.getAddress() instanceof Inet4Address ? IPV4 : IPV6);
        out.writeBytes(ip);
        out.writeShort(a.getPort());
    }

    /** As a stream names a target: host:port, an IPv6 address in brackets. */
    String authority() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
