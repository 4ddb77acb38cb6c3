package dev.titan.tunnel;

import dev.titan.core.config.HostPort;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.Objects;

/**
 * One way to reach a tunnel server: {@code tcp://host:port}, {@code tls://host[:443]},
 * {@code ws://host[:80][/path]} or {@code wss://host[:443][/path]} (path {@value WebSockets#DEFAULT_PATH}
 * unless given). {@code host} is kept as written: it is the TLS server name and the HTTP Host.
 */
public record TunnelEndpoint(String transport, String host, InetSocketAddress address, String path) {
    public TunnelEndpoint {
        Objects.requireNonNull(transport, "transport");
        Objects.requireNonNull(address, "address");
    }

    public static TunnelEndpoint tcp(InetSocketAddress address) {
        return new TunnelEndpoint("tcp", address.getHostString(), address, null);
    }

    /** Whether the connection is TLS (tls, wss). */
    boolean secure() {
        return transport.equals("tls") || transport.equals("wss");
    }

    /** Whether the tunnel runs inside a WebSocket (ws, wss). */
    boolean websocket() {
        return transport.equals("ws") || transport.equals("wss");
    }

    /** The Host header of a WebSocket upgrade: the name, with the port unless it is the scheme's default. */
    String hostHeader() {
        int port = address.getPort();
        String h = host.contains(":") ? "[" + host + "]" : host;
        boolean defaultPort = (transport.equals("ws") && port == 80) || (transport.equals("wss") && port == 443);
        return defaultPort ? h : h + ":" + port;
    }

    /** Parses and resolves {@code text}; a bare {@code host:port} means tcp. */
    public static TunnelEndpoint parse(String text) {
        String t = text.contains("://") ? text : "tcp://" + text;
        int sep = t.indexOf("://");
        String transport = t.substring(0, sep).toLowerCase(Locale.ROOT);
        String rest = t.substring(sep + 3);
        String path = null;
        int slash = rest.indexOf('/');
        if (slash >= 0) {
            path = rest.substring(slash);
            rest = rest.substring(0, slash);
        }
        int defaultPort = switch (transport) {
            case "tcp" -> -1;
            case "tls", "wss" -> 443;
            case "ws" -> 80;
            default -> throw new IllegalArgumentException("'" + text + "': the transport must be tcp, tls, ws or wss, got " + transport);
        };
        if (path != null && !transport.startsWith("ws")) {
            throw new IllegalArgumentException("'" + text + "': only ws:// and wss:// take a path");
        }
        if (transport.startsWith("ws") && (path == null || path.equals("/"))) {
            path = WebSockets.DEFAULT_PATH;
        }
        HostPort.Parsed p = HostPort.parse(rest);
        int port = p.port() >= 0 ? p.port() : defaultPort;
        if (port <= 0) {
            throw new IllegalArgumentException("'" + text + "': a port is required");
        }
        try {
            return new TunnelEndpoint(transport, p.host(), new InetSocketAddress(InetAddress.getByName(p.host()), port), path);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("'" + text + "': unknown host " + p.host());
        }
    }

    @Override
    public String toString() {
        return transport + "://" + HostPort.format(InetSocketAddress.createUnresolved(host, address.getPort())) + (path == null ? "" : path);
    }
}
