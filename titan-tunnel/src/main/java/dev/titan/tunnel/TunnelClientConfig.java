package dev.titan.tunnel;

import dev.titan.core.config.Section;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.net.ssl.SSLException;

/**
 * A tunnel client: which servers to dial, as whom, how many tunnels to hold, and the local services
 * it publishes.
 *
 * @param servers      ways to reach tunnel servers; those with the same host name are one server reached
 *                     by several transports, tried in order until one works, which is then remembered;
 *                     the tunnels are spread over the servers and move on to the next one when theirs fails
 * @param id           client id (replicas share one)
 * @param secret       shared secret, proven by HMAC, never sent
 * @param connections  tunnels to hold open at once
 * @param services     local services, by the name the server asks for
 * @param labels       metadata sent with the handshake (region, ISP, ...)
 */
public record TunnelClientConfig(List<TunnelEndpoint> servers, String id, byte[] secret, int connections, List<LocalService> services,
                                 Map<String, String> labels, TunnelSettings settings, Duration dialTimeout, Duration idleTimeout, Tls tls)
        implements Section {
    public TunnelClientConfig {
        if (servers.isEmpty()) {
            throw new IllegalArgumentException("a tunnel client needs at least one server");
        }
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(secret, "secret");
        if (connections < 1) {
            throw new IllegalArgumentException("connections must be >= 1, got " + connections);
        }
        servers = List.copyOf(servers);
        services = List.copyOf(services);
        labels = Map.copyOf(labels);
    }

    public static TunnelClientConfig of(InetSocketAddress server, String id, String secret, int connections, List<LocalService> services) {
        return of(List.of(TunnelEndpoint.tcp(server)), id, secret, connections, services, null);
    }

    public static TunnelClientConfig of(List<TunnelEndpoint> servers, String id, String secret, int connections, List<LocalService> services,
                                        Tls tls) {
        return new TunnelClientConfig(servers, id, secret.getBytes(StandardCharsets.UTF_8), connections, services, Map.of(),
                TunnelSettings.DEFAULTS, Duration.ofSeconds(5), Duration.ofMinutes(10), tls);
    }

    /**
     * How tls:// and wss:// servers are verified: against {@code context}'s trust (the JDK's CAs,
     * or the configured {@code ca} file), with {@code serverName} (when set) as the name to send and
     * to check instead of the host in the URL.
     */
    public record Tls(SslContext context, String serverName) {
        public Tls {
            Objects.requireNonNull(context, "context");
        }

        /** Verification against the JDK's trusted CAs, or against the certificates in {@code caFile} (PEM) when given. */
        public static Tls of(Path caFile, String serverName) throws SSLException {
            SslContextBuilder b = SslContextBuilder.forClient().endpointIdentificationAlgorithm("HTTPS");
            if (caFile != null) {
                b.trustManager(caFile.toFile());
            }
            return new Tls(b.build(), serverName);
        }
    }

    /**
     * A local service: {@code type} tcp with the server port to expose it on, http or tls with the
     * host names it answers to; {@code local} is where the client connects for each stream;
     * {@code proxyProtocol} v1 or v2 sends the PROXY protocol header first (null: none).
     */
    public record LocalService(String name, String type, InetSocketAddress local, Integer remotePort, List<String> hosts,
                               String proxyProtocol) {
        public LocalService {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(local, "local");
            hosts = hosts == null ? List.of() : List.copyOf(hosts);
            if (proxyProtocol != null && !proxyProtocol.equals("v1") && !proxyProtocol.equals("v2")) {
                throw new IllegalArgumentException("proxy_protocol must be v1 or v2, got " + proxyProtocol);
            }
        }

        public LocalService(String name, String type, InetSocketAddress local, Integer remotePort, List<String> hosts) {
            this(name, type, local, remotePort, hosts, null);
        }

        /** The same service, sending the PROXY protocol header ({@code v1} or {@code v2}) before the user's bytes. */
        public LocalService withProxyProtocol(String version) {
            return new LocalService(name, type, local, remotePort, hosts, version);
        }

        public static LocalService tcp(String name, InetSocketAddress local, int remotePort) {
            return new LocalService(name, "tcp", local, remotePort, List.of());
        }

        /** An HTTP service, exposed by Host: {@code <id>.<domain>} on the server, and any {@code hosts} the id may serve. */
        public static LocalService http(String name, InetSocketAddress local, List<String> hosts) {
            return new LocalService(name, "http", local, null, hosts);
        }

        /** A TLS service passed through by SNI: the server routes by the ClientHello's name and never decrypts. */
        public static LocalService tls(String name, InetSocketAddress local, List<String> hosts) {
            return new LocalService(name, "tls", local, null, hosts);
        }

        TunnelProtocol.Service published() {
            return new TunnelProtocol.Service(name, type, remotePort, hosts.isEmpty() ? null : hosts);
        }
    }

    @Override
    public String summary() {
        return "client " + id + ", " + connections + " tunnel(s) to " + servers + ", services "
                + services.stream().map(LocalService::name).toList();
    }

    @Override
    public String toString() { // never the secret
        return "TunnelClientConfig[servers=" + servers + ", id=" + id + ", connections=" + connections + ", services=" + services + "]";
    }
}
