package dev.titan.tunnel;

import dev.titan.core.config.HostPort;
import dev.titan.core.config.Section;
import dev.titan.core.store.Store;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.SSLException;

/**
 * A tunnel server: where clients dial in, who may, and what they may expose.
 *
 * @param listen       the tunnel port
 * @param exposeHost   the address exposed TCP ports bind to (e.g. 0.0.0.0)
 * @param users        clients allowed to connect, by id
 * @param settings     stream windows, limits, keepalive and handshake timeout
 * @param idleTimeout  an exposed connection with no traffic either way for this long is closed
 * @param domain       HTTP requests for {@code <id>.<domain>} go to client {@code id}; null: the first label of
 *                     the Host names the client (GT's rule)
 * @param tls          the server's certificate: TLS on the tunnel port (null: none) for tls:// and wss://
 *                     tunnels, and for HTTPS to HTTP services; a ClientHello naming a client's TLS
 *                     service is still passed through untouched
 * @param wsPath       the path where a WebSocket upgrade becomes a tunnel (ws:// and wss://)
 */
public record TunnelServerConfig(InetSocketAddress listen, String exposeHost, List<User> users, TunnelSettings settings,
                                 Duration idleTimeout, String domain, Tls tls, String wsPath) implements Section {
    @Override
    public String summary() {
        return "listening on " + HostPort.format(listen) + " for " + users.size() + " client id(s) " + users.stream().map(User::id).toList()
                + (tls == null ? "" : ", with TLS") + (domain == null ? "" : ", domain " + domain);
    }

    public TunnelServerConfig {
        Objects.requireNonNull(listen, "listen");
        users = List.copyOf(users);
        wsPath = wsPath == null ? WebSockets.DEFAULT_PATH : wsPath;
    }

    public TunnelServerConfig(InetSocketAddress listen, String exposeHost, List<User> users, TunnelSettings settings,
                              Duration idleTimeout, String domain) {
        this(listen, exposeHost, users, settings, idleTimeout, domain, null, null);
    }

    /** The same server with TLS on its port. */
    public TunnelServerConfig withTls(Tls tls) {
        return new TunnelServerConfig(listen, exposeHost, users, settings, idleTimeout, domain, tls, wsPath);
    }

    /** A server certificate and key (PEM, key in PKCS#8), loaded. */
    public record Tls(Path cert, Path key, SslContext context) {
        public static Tls of(Path cert, Path key) throws SSLException {
            return new Tls(cert, key, SslContextBuilder.forServer(cert.toFile(), key.toFile()).build());
        }
    }

    /**
     * A client identity with its secret and what it may expose. {@code maxConnections}: user
     * connections open through its tunnels at once (0: no limit); {@code bytesToClient} and
     * {@code bytesFromClient}: bandwidth limits in bytes per second towards its services and back
     * (0: none), shared by all its connections.
     */
    public record User(String id, byte[] secret, List<PortRange> ports, List<String> hosts, int maxTunnels, int maxConnections,
                       long bytesToClient, long bytesFromClient) {
        public User {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(secret, "secret");
            ports = List.copyOf(ports);
            hosts = List.copyOf(hosts);
        }

        /** This client id as a user of the store: its secret and limits (bytes in: toward its services). */
        public Store.User account() {
            return new Store.User(id, secret, new Store.Limits(maxConnections, bytesToClient, bytesFromClient), null);
        }

        public User(String id, byte[] secret, List<PortRange> ports, List<String> hosts, int maxTunnels) {
            this(id, secret, ports, hosts, maxTunnels, 0, 0, 0);
        }

        /** The same user with connection and bandwidth limits. */
        public User withLimits(int maxConnections, long bytesToClient, long bytesFromClient) {
            return new User(id, secret, ports, hosts, maxTunnels, maxConnections, bytesToClient, bytesFromClient);
        }

        public static User of(String id, String secret, List<PortRange> ports) {
            return new User(id, secret.getBytes(StandardCharsets.UTF_8), ports, List.of(), 16);
        }

        /** A custom host this user may publish: listed exactly, or under a listed {@code *.suffix}. */
        boolean mayServe(String host) {
            for (String h : hosts) {
                if (h.equalsIgnoreCase(host) || (h.startsWith("*.") && host.toLowerCase().endsWith(h.substring(1).toLowerCase()))) {
                    return true;
                }
            }
            return false;
        }

        boolean mayExpose(int port) {
            return ports.stream().anyMatch(r -> r.contains(port));
        }

        @Override
        public String toString() { // never the secret
            return "User[" + id + "]";
        }
    }

    /** An inclusive range of ports. */
    public record PortRange(int from, int to) {
        public PortRange {
            if (from < 1 || to > 65_535 || from > to) {
                throw new IllegalArgumentException("port range " + from + "-" + to + " must be within 1-65535, low to high");
            }
        }

        /** "20000-20100" or "20022". */
        public static PortRange parse(String s) {
            int dash = s.indexOf('-');
            try {
                return dash < 0 ? new PortRange(Integer.parseInt(s.trim()), Integer.parseInt(s.trim()))
                        : new PortRange(Integer.parseInt(s.substring(0, dash).trim()), Integer.parseInt(s.substring(dash + 1).trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a port or port range: " + s);
            }
        }

        boolean contains(int port) {
            return port >= from && port <= to;
        }
    }
}
