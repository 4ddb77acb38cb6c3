package dev.titan.core.net;

import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.Objects;

/**
 * An IPv4 or IPv6 network in CIDR notation ({@code 10.0.0.0/8}, {@code fe80::/10}; a bare address
 * is its own /32 or /128). An IPv4-mapped IPv6 address ({@code ::ffff:10.0.0.1}) is matched as the
 * IPv4 address it carries, so a policy written for IPv4 cannot be walked around through IPv6.
 *
 * <pre>{@code
 * Cidr.parse("192.168.0.0/16").contains(InetAddress.getByName("192.168.4.2")); // true
 * }</pre>
 */
public final class Cidr {
    private final byte[] network;
    private final int prefix;
    private final String text;

    private Cidr(byte[] network, int prefix, String text) {
        this.network = network;
        this.prefix = prefix;
        this.text = text;
    }

    /** Parses {@code address[/prefix]}; an address literal only (no name is resolved). */
    public static Cidr parse(String s) {
        Objects.requireNonNull(s, "s");
        String t = s.strip();
        int slash = t.indexOf('/');
        String addr = slash < 0 ? t : t.substring(0, slash);
        byte[] bytes = NetUtil.createByteArrayFromIpAddressString(addr);
        if (bytes == null) {
            throw new IllegalArgumentException("'" + s + "' is not an IP address or CIDR range");
        }
        bytes = unmapped(bytes);
        int max = bytes.length * 8;
        int prefix = max;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(t.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefix = -1;
            }
            if (prefix < 0 || prefix > max) {
                throw new IllegalArgumentException("'" + s + "': the prefix must be 0-" + max);
            }
        }
        return new Cidr(mask(bytes, prefix), prefix, t);
    }

    /** Whether {@code address} is in this network. */
    public boolean contains(InetAddress address) {
        return contains(address.getAddress());
    }

    /** Whether the raw address (4 or 16 bytes) is in this network. */
    public boolean contains(byte[] address) {
        byte[] a = unmapped(address);
        if (a.length != network.length) {
            return false;
        }
        return Arrays.equals(mask(a, prefix), network);
    }

    private static byte[] mask(byte[] a, int prefix) {
        byte[] out = a.clone();
        for (int i = 0; i < out.length; i++) {
            int bits = Math.max(0, Math.min(8, prefix - i * 8));
            out[i] &= (byte) (bits == 0 ? 0 : 0xFF << (8 - bits));
        }
        return out;
    }

    /** The IPv4 address inside an IPv4-mapped IPv6 address; any other address as it is. */
    private static byte[] unmapped(byte[] a) {
        if (a.length != 16) {
            return a;
        }
        for (int i = 0; i < 10; i++) {
            if (a[i] != 0) {
                return a;
            }
        }
        return a[10] == (byte) 0xFF && a[11] == (byte) 0xFF ? Arrays.copyOfRange(a, 12, 16) : a;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cidr c && c.prefix == prefix && Arrays.equals(c.network, network);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(network) * 31 + prefix;
    }

    @Override
    public String toString() {
        return text;
    }
}
