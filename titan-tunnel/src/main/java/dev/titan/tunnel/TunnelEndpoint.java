package dev.titan.tunnel;

import dev.titan.core.config.HostPort;
import java.net.InetSocketAddress;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
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

    /** The transports and their default ports (-1: none, the port must be given). */
    private static final Map<String, Integer> TRANSPORTS = orderedMap("tcp", -1, "tls", 443, "ws", 80, "wss", 443);

    /** Parses and resolves {@code text}; a bare {@code host:port} means tcp. */
    public static TunnelEndpoint parse(String text) {
        SchemeAddress a = SchemeAddress.parse(text.contains("://") ? text : "tcp://" + text, TRANSPORTS);
        boolean websocket = a.scheme().startsWith("ws");
        if (a.path() != null && !websocket) {
            throw new IllegalArgumentException("'" + text + "': only ws:// and wss:// take a path");
        }
        String path = websocket && (a.path() == null || a.path().equals("/")) ? WebSockets.DEFAULT_PATH : a.path();
        return new TunnelEndpoint(a.scheme(), a.host(), a.address(), path);
    }

    /** A map that keeps the order the pairs are given in (for error messages). */
    static Map<String, Integer> orderedMap(Object... pairs) {
        Map<String, Integer> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put((String) pairs[i], (Integer) pairs[i + 1]);
        }
        return Collections.unmodifiableMap(m);
    }

    @Override
    public String toString() {
        return transport + "://" + HostPort.format(InetSocketAddress.createUnresolved(host, address.getPort())) + (path == null ? "" : path);
    }
}
