package dev.titan.core.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/** Parses {@code host:port}, {@code [v6]:port} and bare hosts the way every Titan config key does. */
public final class HostPort {
    private HostPort() {
    }

    /** A parsed but unresolved {@code host[:port]}; {@code port} is -1 when absent. */
    public record Parsed(String host, int port) {
    }

    public static Parsed parse(String text) {
        String s = text.trim();
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty address");
        }
        String host;
        int port = -1;
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("'" + text + "': missing ] in IPv6 address");
            }
            host = s.substring(1, close);
            String rest = s.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    throw new IllegalArgumentException("'" + text + "': expected :port after ]");
                }
                port = port(rest.substring(1), text);
            }
        } else {
            int first = s.indexOf(':');
            int last = s.lastIndexOf(':');
            if (first >= 0 && first == last) {
                host = s.substring(0, first);
                port = port(s.substring(first + 1), text);
            } else {
                host = s; // bare IPv6 (several colons) or host without port
            }
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException("'" + text + "': missing host");
        }
        return new Parsed(host, port);
    }

    /** A listen address: an IP literal (or localhost) and a port, not resolved through DNS. */
    public static InetSocketAddress parseBindAddress(String text) {
        Parsed p = parse(text);
        if (p.port < 0) {
            throw new IllegalArgumentException("'" + text + "': a port is required (e.g. 127.0.0.1:8080)");
        }
        try {
            InetAddress addr = p.host.equals("*") ? InetAddress.getByName("0.0.0.0") : InetAddress.getByName(p.host);
            return new InetSocketAddress(addr, p.port);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("'" + text + "': unknown host " + p.host);
        }
    }

    static int port(String s, String text) {
        try {
            int p = Integer.parseInt(s.trim());
            if (p < 0 || p > 65535) {
                throw new NumberFormatException();
            }
            return p;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "': port must be 0-65535");
        }
    }

    /** Formats an address as {@code ip:port} or {@code [v6]:port}. */
    public static String format(InetSocketAddress a) {
        String host = a.getAddress() == null ? a.getHostString() : a.getAddress().getHostAddress();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
    }
}
