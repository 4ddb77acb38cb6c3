package dev.titan.tunnel;

import dev.titan.core.config.ConfigNode;
import dev.titan.core.config.HostPort;
import dev.titan.core.config.SectionReader;
import dev.titan.core.limit.RateLimiter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import javax.net.ssl.SSLException;

/**
 * The tunnel's configuration sections, read with the same path-aware rules as the rest of the file:
 * <pre>{@code
 * tunnel_server:
 *   listen_addr: "0.0.0.0:12080"      # tunnels and HTTP by Host share this port
 *   domain: example.com               # <id>.example.com -> client id (none: the Host's first label)
 *   users:
 *     - { id: id1, secret: "${ID1_SECRET}", ports: ["20000-20100"], hosts: ["app.example.org"] }
 * tunnel_client:
 *   servers: ["tcp://tunnel.example.com:12080"]
 *   id: id1
 *   secret: "${ID1_SECRET}"
 *   connections: 3
 *   services:
 *     - { name: web, local: "http://127.0.0.1:80" }
 *     - { name: ssh, local: "tcp://127.0.0.1:22", remote_port: 20022, proxy_protocol: v2 }
 *     - { name: secure, local: "tls://127.0.0.1:443", hosts: ["secure.example.org"] }   # SNI passthrough
 * }</pre>
 */
public final class TunnelSections {
    public static final String SERVER = "tunnel_server";
    public static final String CLIENT = "tunnel_client";

    private TunnelSections() {
    }

    /** The readers to register with the configuration loader. */
    public static Map<String, SectionReader> readers() {
        return Map.of(SERVER, TunnelSections::server, CLIENT, TunnelSections::client);
    }

    /** Reads a tunnel server's keys from {@code n} (also an overlay PoP's {@code edges}). */
    public static TunnelServerConfig server(ConfigNode n) {
        InetSocketAddress listen = n.parsed("listen_addr", new InetSocketAddress("0.0.0.0", 12080), HostPort::parseBindAddress);
        String exposeHost = n.string("expose_host", "0.0.0.0");
        String domain = n.string("domain", null);
        Duration idle = n.duration("idle_timeout", Duration.ofMinutes(10), Duration.ZERO);
        TunnelSettings settings = settings(n.child("settings"));
        TunnelServerConfig.Tls tls = serverTls(n.child("tls"));
        String wsPath = n.string("ws_path", WebSockets.DEFAULT_PATH);
        if (!wsPath.startsWith("/")) {
            n.problem("ws_path", "must start with '/', got '" + wsPath + "'");
        }
        List<TunnelServerConfig.User> users = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        for (ConfigNode u : n.list("users")) {
            String id = u.required("id");
            String secret = u.required("secret");
            if (secret != null && secret.length() < 8) {
                u.problem("secret", "must be at least 8 characters (value not shown)");
            }
            List<TunnelServerConfig.PortRange> ports = new ArrayList<>();
            for (String p : u.strings("ports")) {
                try {
                    ports.add(TunnelServerConfig.PortRange.parse(p));
                } catch (IllegalArgumentException e) {
                    u.problem("ports", e.getMessage());
                }
            }
            List<String> hosts = u.strings("hosts").stream().map(h -> h.toLowerCase(Locale.ROOT)).toList();
            int maxTunnels = u.integer("max_tunnels", 16, 1, 10_000);
            int maxConnections = u.integer("max_connections", 0, 0, 10_000_000);
            long[] bandwidth = bandwidth(u);
            u.finish();
            if (id != null && !ids.add(id)) {
                u.problem("id", "duplicate user id '" + id + "'");
            }
            if (id != null && secret != null) {
                users.add(new TunnelServerConfig.User(id, secret.getBytes(StandardCharsets.UTF_8), ports, hosts, maxTunnels)
                        .withLimits(maxConnections, bandwidth[0], bandwidth[1]));
            }
        }
        if (users.isEmpty() && !n.has("users")) {
            n.problem("users", "is required: at least one user (id, secret)");
        }
        n.finish();
        return new TunnelServerConfig(listen, exposeHost, users, settings, idle,
                domain == null || domain.isBlank() ? null : domain.toLowerCase(Locale.ROOT), tls, wsPath);
    }

    /** Reads a tunnel client's keys from {@code n} (also an overlay edge's); null when required keys are missing (reported). */
    public static TunnelClientConfig client(ConfigNode n) {
        List<TunnelEndpoint> servers = new ArrayList<>();
        for (String s : n.strings("servers")) {
            try {
                servers.add(TunnelEndpoint.parse(s));
            } catch (IllegalArgumentException e) {
                n.problem("servers", e.getMessage());
            }
        }
        if (servers.isEmpty() && !n.problems().list().stream().anyMatch(p -> p.startsWith(n.pathOf("servers")))) {
            n.problem("servers", "is required: at least one tunnel server (tcp://host:port, tls://host, ws://host or wss://host)");
        }
        TunnelClientConfig.Tls tls = clientTls(n.child("tls"));
        String id = n.required("id");
        String secret = n.required("secret");
        int connections = n.integer("connections", 1, 1, 64);
        Duration dial = n.duration("dial_timeout", Duration.ofSeconds(5), Duration.ofMillis(100));
        Duration idle = n.duration("idle_timeout", Duration.ofMinutes(10), Duration.ZERO);
        TunnelSettings settings = settings(n.child("settings"));
        List<TunnelClientConfig.LocalService> services = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (ConfigNode s : n.list("services")) {
            TunnelClientConfig.LocalService svc = service(s);
            s.finish();
            if (svc != null) {
                if (!names.add(svc.name())) {
                    s.problem("name", "duplicate service name '" + svc.name() + "'");
                }
                services.add(svc);
            }
        }
        Map<String, String> labels = n.stringMap("labels");
        n.finish();
        if (servers.isEmpty() || id == null || secret == null) {
            return null; // problems already reported
        }
        return new TunnelClientConfig(servers, id, secret.getBytes(StandardCharsets.UTF_8), connections, services, labels, settings,
                dial, idle, tls);
    }

    private static TunnelClientConfig.LocalService service(ConfigNode s) {
        String local = s.required("local");
        if (local == null) {
            return null;
        }
        Target t;
        try {
            t = Target.parse(local);
        } catch (IllegalArgumentException e) {
            s.problem("local", e.getMessage());
            return null;
        }
        String name = s.string("name", t.scheme());
        Integer remotePort = s.has("remote_port") ? s.integer("remote_port", 0, 1, 65_535) : null;
        List<String> hosts = s.strings("hosts").stream().map(h -> h.toLowerCase(Locale.ROOT)).toList();
        if (t.scheme().equals("tcp") && remotePort == null) {
            s.problem("remote_port", "is required for a tcp service (the server port to expose it on)");
        }
        if (!t.scheme().equals("tcp") && remotePort != null) {
            s.problem("remote_port", "applies to tcp services; an " + t.scheme() + " service is exposed by "
                    + (t.scheme().equals("http") ? "Host" : "TLS server name"));
        }
        String proxy = s.has("proxy_protocol") ? s.choice("proxy_protocol", null, List.of("v1", "v2")) : null;
        return new TunnelClientConfig.LocalService(name, t.scheme(), t.address(), remotePort, hosts, proxy);
    }

    private static TunnelSettings settings(ConfigNode n) {
        TunnelSettings d = TunnelSettings.DEFAULTS;
        int streamWindow = n.integer("stream_window", d.streamWindow(), 65_535, Integer.MAX_VALUE);
        int connectionWindow = n.integer("connection_window", d.connectionWindow(), 65_535, Integer.MAX_VALUE);
        int frame = n.integer("max_frame_size", d.maxFrameSize(), 16_384, 16_777_215);
        int streams = n.integer("max_streams", d.maxStreams(), 1, 1_000_000);
        int pendingOpens = n.integer("max_pending_opens", d.maxPendingOpens(), 1, 1_000_000);
        Duration ping = n.duration("ping_interval", d.pingInterval(), Duration.ofMillis(100));
        Duration pingTimeout = n.duration("ping_timeout", d.pingTimeout(), Duration.ofMillis(100));
        Duration handshake = n.duration("handshake_timeout", d.handshakeTimeout(), Duration.ofMillis(100));
        Duration open = n.duration("open_timeout", d.openTimeout(), Duration.ofMillis(100));
        if (connectionWindow < streamWindow) {
            n.problem("connection_window", "must be at least stream_window (" + streamWindow + "), got " + connectionWindow);
            connectionWindow = streamWindow;
        }
        n.finish();
        return new TunnelSettings(streamWindow, connectionWindow, frame, streams, ping, pingTimeout, handshake, pendingOpens, open);
    }

    /**
     * {@code bandwidth: 100mbit} (each direction) or {@code bandwidth: { to_client: 100mbit,
     * from_client: 20mbit }}: bytes per second towards the client's services and back, 0 for none.
     */
    private static long[] bandwidth(ConfigNode u) {
        if (!u.has("bandwidth")) {
            return new long[] {0, 0};
        }
        if (!u.isMapping("bandwidth")) { // a plain value: the same limit each way
            long both = u.parsed("bandwidth", 0L, RateLimiter::parseRate);
            return new long[] {both, both};
        }
        ConfigNode b = u.child("bandwidth");
        long to = b.has("to_client") ? b.parsed("to_client", 0L, RateLimiter::parseRate) : 0;
        long from = b.has("from_client") ? b.parsed("from_client", 0L, RateLimiter::parseRate) : 0;
        b.finish();
        return new long[] {to, from};
    }

    /** {@code tls: { ca: FILE, server_name: NAME }} of a client, or null when absent (the JDK's CAs, the URL's host). */
    private static TunnelClientConfig.Tls clientTls(ConfigNode n) {
        if (!n.isPresent()) {
            return null;
        }
        String ca = n.string("ca", null);
        String serverName = n.string("server_name", null);
        n.finish();
        try {
            return TunnelClientConfig.Tls.of(ca == null ? null : Path.of(ca), serverName);
        } catch (SSLException | RuntimeException e) {
            n.problem("ca", "cannot load the CA certificates from '" + ca + "': " + TunnelClient.rootMessage(e));
            return null;
        }
    }

    /** {@code tls: { cert: FILE, key: FILE }} of a server (PEM; the key in PKCS#8), or null when absent. */
    private static TunnelServerConfig.Tls serverTls(ConfigNode n) {
        if (!n.isPresent()) {
            return null;
        }
        String cert = n.required("cert");
        String key = n.required("key");
        n.finish();
        if (cert == null || key == null) {
            return null;
        }
        try {
            return TunnelServerConfig.Tls.of(Path.of(cert), Path.of(key));
        } catch (SSLException | RuntimeException e) {
            n.problem("cert", "cannot load the certificate '" + cert + "' with key '" + key + "' (PEM, key in PKCS#8): " + TunnelClient.rootMessage(e));
            return null;
        }
    }

    /** {@code scheme://host[:port]}: tcp, http (port 80 by default) or tls (passthrough by SNI, port 443 by default). */
    record Target(String scheme, InetSocketAddress address) {
        private static final Map<String, Integer> SCHEMES = TunnelEndpoint.orderedMap("tcp", -1, "http", 80, "tls", 443);

        static Target parse(String text) {
            SchemeAddress a = SchemeAddress.parse(text, SCHEMES);
            return new Target(a.scheme(), a.address());
        }
    }
}
