package dev.titan.core.config;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

/** A bound socket, its limits, and the cluster its connections go to. */
public record ListenerConfig(
        String name,
        String protocol,
        InetSocketAddress listenAddr,
        String cluster,
        int maxConnections,
        int maxConnectionsPerIp,
        int backlog,
        boolean reusePort,
        boolean tcpNoDelay,
        boolean tcpKeepAlive,
        Duration idleTimeout,
        Duration udpSessionIdleTimeout,
        int udpMaxSessions) {

    public static final List<String> PROTOCOLS = List.of("tcp", "udp");

    public boolean isUdp() {
        return protocol.equals("udp");
    }

    static ListenerConfig read(ConfigNode n, String defaultName) {
        String name = n.string("name", defaultName);
        String protocol = n.choice("protocol", "tcp", PROTOCOLS);
        InetSocketAddress addr = n.parsed("listen_addr", null, HostPort::parseBindAddress);
        if (addr == null && !n.has("listen_addr")) {
            n.problem("listen_addr", "is required");
        }
        String cluster = n.required("cluster");
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
        return new ListenerConfig(name, protocol, addr, cluster, max, perIp, backlog, reusePort, noDelay, keepAlive,
                idle, udpIdle, udpMax);
    }
}
