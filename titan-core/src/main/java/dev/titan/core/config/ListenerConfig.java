package dev.titan.core.config;

import java.net.InetSocketAddress;
import java.time.Duration;
import dev.titan.core.route.RouteRule;
import java.util.ArrayList;
import java.util.List;

/**
 * A bound socket, its limits, and where its connections go: {@code routes} (the first matching
 * rule names the cluster) and {@code cluster}, the rule that matches everything, last.
 */
public record ListenerConfig(
        String name,
        String protocol,
        InetSocketAddress listenAddr,
        String cluster,
        List<RouteRule> routes,
        String ingress,
        Duration ingressTimeout,
        int maxConnections,
        int maxConnectionsPerIp,
        int backlog,
        boolean reusePort,
        boolean tcpNoDelay,
        boolean tcpKeepAlive,
        Duration idleTimeout,
        Duration udpSessionIdleTimeout,
        int udpMaxSessions) {

    /**
     * How a TCP listener reads a connection before routing it: {@code tcp} reads nothing (the
     * routes can match on the listener and the client only); {@code sni} reads the TLS
     * ClientHello's server name and passes TLS through; {@code http} reads the first request's head
     * and routes on its Host.
     */
    public static final List<String> INGRESSES = List.of("tcp", "sni", "http");

    /**
     * A raw TCP listener a module opens itself (a tunnel client's exposed port), with the defaults
     * a configured one gets; {@code cluster} names where its router sends connections, for logs.
     */
    public static ListenerConfig tcp(String name, String cluster, InetSocketAddress at, Duration idleTimeout) {
        return new ListenerConfig(name, "tcp", at, cluster, List.of(), "tcp", Duration.ofSeconds(10), 0, 0, 4096, false, true, true,
                idleTimeout, Duration.ofSeconds(60), 65_536);
    }

    /** The rules in order, with {@code cluster} (if set) as the last one. */
    public List<RouteRule> rules() {
        if (cluster == null) {
            return routes;
        }
        List<RouteRule> all = new ArrayList<>(routes);
        all.add(RouteRule.any(cluster));
        return List.copyOf(all);
    }

    /** Every cluster the listener's rules name, in order. */
    public List<String> clusters() {
        return rules().stream().map(RouteRule::cluster).distinct().toList();
    }

    /** The clusters for the status view and logs: one name, or the routes' names joined. */
    public String clusterSummary() {
        return String.join(",", clusters());
    }

    public boolean isUdp() {
        return protocol.equals("udp");
    }

    /** Reads one listener; its {@code protocol} must be one of {@code protocols} (those the modules provide). */
    static ListenerConfig read(ConfigNode n, String defaultName, List<String> protocols) {
        String name = n.string("name", defaultName);
        String protocol = n.choice("protocol", "tcp", protocols);
        InetSocketAddress addr = n.parsed("listen_addr", null, HostPort::parseBindAddress);
        if (addr == null && !n.has("listen_addr")) {
            n.problem("listen_addr", "is required");
        }
        List<RouteRule> routes = new ArrayList<>();
        for (ConfigNode r : n.list("routes")) {
            ConfigNode m = r.child("match");
            RouteRule rule = new RouteRule(m.string("host", null), m.string("sni", null), m.string("user", null),
                    m.has("protocol") ? m.choice("protocol", null, RouteRule.PROTOCOLS) : null, r.required("cluster"));
            m.finish();
            r.finish();
            routes.add(rule);
        }
        String cluster = routes.isEmpty() || n.has("cluster") ? n.required("cluster") : null;
        String ingress = n.choice("ingress", "tcp", INGRESSES);
        if (protocol.equals("udp") && !ingress.equals("tcp")) {
            n.problem("ingress", "must be tcp for a udp listener (a datagram has no opening to read)");
        }
        Duration ingressTimeout = n.duration("ingress_timeout", Duration.ofSeconds(10), Duration.ofMillis(10));
        int max = n.integer("max_connections", 0, 0, 10_000_000);
        int perIp = n.integer("max_connections_per_ip", 0, 0, 10_000_000);
        int backlog = n.integer("backlog", 4096, 1, 1_000_000);
        boolean reusePort = n.bool("reuse_port", false);
        ConfigNode tcp = n.child("tcp");
        boolean noDelay = tcp.bool("nodelay", true);
        boolean keepAlive = tcp.bool("keepalive", true);
        tcp.finish();
        Duration idle = n.duration("idle_timeout", Duration.ofMinutes(10), Duration.ZERO);
        ConfigNode udp = n.child("udp");
        Duration udpIdle = udp.duration("session_idle_timeout", Duration.ofSeconds(60), Duration.ofMillis(10));
        int udpMax = udp.integer("max_sessions", 65_536, 1, 10_000_000);
        udp.finish();
        n.finish();
        return new ListenerConfig(name, protocol, addr, cluster, List.copyOf(routes), ingress, ingressTimeout, max, perIp, backlog, reusePort, noDelay, keepAlive,
                idle, udpIdle, udpMax);
    }
}
