package dev.titan.overlay;

import dev.titan.core.config.ConfigNode;
import dev.titan.core.config.HostPort;
import dev.titan.core.config.SectionReader;
import dev.titan.core.limit.RateLimiter;
import dev.titan.core.net.Cidr;
import dev.titan.core.store.Store;
import dev.titan.tunnel.TunnelClientConfig;
import dev.titan.tunnel.TunnelSections;
import dev.titan.tunnel.TunnelServerConfig;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The overlay's configuration sections:
 * <pre>{@code
 * pop:
 *   socks: "0.0.0.0:1080"            # SOCKS5; any of socks, http, mixed
 *   http: "0.0.0.0:8118"             # HTTP proxy (CONNECT and absolute-form)
 *   mixed: "0.0.0.0:7890"            # both on one port, told apart by the first byte
 *   users:
 *     - { id: alice, password: "${ALICE_PASSWORD}" }
 *   sources:                         # admitted without credentials, as that user
 *     - { network: 10.1.0.0/16, user: alice }
 *   allow_open: false                # true: anyone may use it (refused unless said)
 *   edges:                           # where edges dial in: a tunnel server's keys, its users the edges
 *     listen_addr: "0.0.0.0:8443"
 *     tls: { cert: pop.crt, key: pop.key }
 *     users: [ { id: e1, secret: "${E1_SECRET}" } ]
 * edge:
 *   servers: ["wss://pop.example.com:8443"]   # a tunnel client's keys, with no services
 *   id: e1
 *   secret: "${E1_SECRET}"
 *   labels: { country: us, city: nyc, asn: "7922" }
 *   egress: { allow: [192.0.2.0/24], deny: [203.0.113.0/24], deny_ports: [25], allow_domains: [], deny_domains: [] }
 * }</pre>
 */
public final class OverlaySections {
    public static final String POP = "pop";
    public static final String EDGE = "edge";

    private OverlaySections() {
    }

    public static Map<String, SectionReader> readers() {
        return Map.of(POP, OverlaySections::pop, EDGE, OverlaySections::edge);
    }

    static Pop.Config pop(ConfigNode n) {
        InetSocketAddress socks = port(n, "socks");
        InetSocketAddress http = port(n, "http");
        InetSocketAddress mixed = port(n, "mixed");
        if (socks == null && http == null && mixed == null && !n.has("socks") && !n.has("http") && !n.has("mixed")) {
            n.problem("socks", "a PoP needs at least one of socks, http and mixed");
        }
        List<Store.User> users = new ArrayList<>();
        Map<String, RoutingPolicy> routing = new java.util.HashMap<>();
        Set<String> ids = new HashSet<>();
        for (ConfigNode u : n.list("users")) {
            String id = u.required("id");
            String password = u.required("password");
            RoutingPolicy policy = routing(u.child("routing"));
            if (id != null && policy != null) {
                routing.put(id, policy);
            }
            if (id != null && (id.isEmpty() || id.indexOf('-') >= 0 || id.indexOf(':') >= 0)) {
                u.problem("id", "must be non-empty without '-' or ':' (they separate username parameters and the password), got '" + id + "'");
            }
            if (password != null && password.length() < 8) {
                u.problem("password", "must be at least 8 characters (value not shown)");
            }
            Store.Limits limits = limits(u);
            u.finish();
            if (id != null && !ids.add(id)) {
                u.problem("id", "duplicate user id '" + id + "'");
            }
            if (id != null && password != null) {
                users.add(new Store.User(id, password.getBytes(StandardCharsets.UTF_8), limits, null));
            }
        }
        List<Pop.SourceRule> sources = new ArrayList<>();
        for (ConfigNode s : n.list("sources")) {
            String network = s.required("network");
            String user = s.required("user");
            s.finish();
            if (network != null) {
                try {
                    Cidr.parse(network);
                } catch (IllegalArgumentException e) {
                    s.problem("network", e.getMessage());
                    continue;
                }
            }
            if (user != null && !ids.contains(user)) {
                s.problem("user", "names no user of pop.users: '" + user + "'");
            }
            if (network != null && user != null) {
                sources.add(new Pop.SourceRule(network, user));
            }
        }
        boolean open = n.bool("allow_open", false);
        if (users.isEmpty() && sources.isEmpty() && !open && !n.problems().list().stream().anyMatch(p -> p.startsWith(n.pathOf("users")))) {
            n.problem("users", "is required: a PoP without users, sources or allow_open: true would be an open proxy");
        }
        Duration handshake = n.duration("handshake_timeout", Duration.ofSeconds(10), Duration.ofMillis(100));
        boolean browserInfo = n.bool("browser_info", false);
        ConfigNode un = n.child("unstable");
        Diagnostics.Thresholds unstable = Diagnostics.Thresholds.DEFAULT;
        if (un.isPresent()) {
            unstable = new Diagnostics.Thresholds(
                    un.duration("jitter", Duration.ofMillis((long) unstable.maxJitterMs()), Duration.ZERO).toNanos() / 1e6,
                    un.decimal("success_rate", unstable.minSuccessRate(), ConfigNode.Range.closed(0, 1)),
                    un.integer("failures_in_a_row", unstable.maxFailuresInARow(), 1, 1_000));
            un.finish();
        }
        ConfigNode us = n.child("usage");
        Pop.UsageStore usage = null;
        if (us.isPresent()) {
            String file = us.required("file");
            Duration flush = us.duration("flush_interval", Duration.ofSeconds(5), Duration.ofMillis(100));
            us.finish();
            usage = file == null ? null : new Pop.UsageStore(java.nio.file.Path.of(file), flush);
        }
        ConfigNode z = n.child("zero_rtt");
        Pop.ZeroRtt zeroRtt = Pop.ZeroRtt.DEFAULT;
        if (z.isPresent()) {
            zeroRtt = new Pop.ZeroRtt(z.bool("socks", true), z.bool("http_connect", false),
                    z.duration("first_flight_wait", Pop.ZeroRtt.DEFAULT.firstFlightWait(), Duration.ZERO));
            z.finish();
        }
        Duration idle = n.duration("idle_timeout", Duration.ofMinutes(10), Duration.ZERO);
        ConfigNode e = n.child("edges");
        TunnelServerConfig edges = null;
        if (!e.isPresent()) {
            n.problem("edges", "is required: where edges dial in (listen_addr) and who they are (users: id, secret)");
        } else {
            edges = TunnelSections.server(e);
        }
        n.finish();
        if (edges == null || (socks == null && http == null && mixed == null)) {
            return null; // problems already reported
        }
        return new Pop.Config(socks, http, mixed, edges, users, sources, open, handshake, idle, routing, zeroRtt, usage, browserInfo, unstable);
    }

    /**
     * A user's limits: {@code max_connections}, {@code max_new_per_second}, {@code bandwidth}
     * ({@code 100mbit} each way, or {@code { up: 20mbit, down: 100mbit }}), {@code quota}
     * ({@code 10GB} in total, or {@code { bytes: 10GB, period: total|day|month }}).
     */
    private static Store.Limits limits(ConfigNode u) {
        int maxConnections = u.integer("max_connections", 0, 0, 10_000_000);
        int maxNew = u.integer("max_new_per_second", 0, 0, 10_000_000);
        long up = 0;
        long down = 0;
        if (u.has("bandwidth")) {
            if (u.isMapping("bandwidth")) {
                ConfigNode b = u.child("bandwidth");
                up = b.has("up") ? b.parsed("up", 0L, RateLimiter::parseRate) : 0;
                down = b.has("down") ? b.parsed("down", 0L, RateLimiter::parseRate) : 0;
                b.finish();
            } else {
                up = down = u.parsed("bandwidth", 0L, RateLimiter::parseRate);
            }
        }
        long quota = 0;
        Store.QuotaPeriod period = Store.QuotaPeriod.TOTAL;
        if (u.has("quota")) {
            if (u.isMapping("quota")) {
                ConfigNode q = u.child("quota");
                Long bytes = q.has("bytes") ? q.parsed("bytes", 0L, RateLimiter::parseSize) : null;
                if (bytes == null) {
                    q.problem("bytes", "is required: how much traffic, e.g. 10GB");
                }
                quota = bytes == null ? 0 : bytes;
                period = Store.QuotaPeriod.valueOf(q.choice("period", "total", List.of("total", "day", "month")).toUpperCase(java.util.Locale.ROOT));
                q.finish();
            } else {
                quota = u.parsed("quota", 0L, RateLimiter::parseSize);
            }
        }
        return new Store.Limits(maxConnections, up, down, maxNew, quota, period);
    }

    /** {@code routing: { mode: auto|rotating|timed|manual, interval: 10m, edge: e1, labels: { country: us } }}, or null when absent. */
    private static RoutingPolicy routing(ConfigNode r) {
        if (!r.isPresent()) {
            return null;
        }
        String mode = r.choice("mode", "auto", List.of("auto", "rotating", "timed", "manual"));
        Duration interval = r.has("interval") ? r.duration("interval", Duration.ofMinutes(10), Duration.ofSeconds(1)) : null;
        String edge = r.string("edge", null);
        Map<String, String> labels = new java.util.HashMap<>();
        r.stringMap("labels").forEach((k, v) -> labels.put(k, v.toLowerCase(java.util.Locale.ROOT)));
        r.finish();
        if (mode.equals("timed") && interval == null) {
            r.problem("interval", "is required for timed routing (how often the user's edge changes, e.g. 10m)");
            return null;
        }
        if (mode.equals("manual") && edge == null && labels.isEmpty()) {
            r.problem("edge", "manual routing needs an edge or labels");
            return null;
        }
        return new RoutingPolicy(RoutingPolicy.Mode.valueOf(mode.toUpperCase(java.util.Locale.ROOT)), interval, edge, labels);
    }

    private static InetSocketAddress port(ConfigNode n, String key) {
        return n.has(key) ? n.parsed(key, null, HostPort::parseBindAddress) : null;
    }

    static EdgeConfig edge(ConfigNode n) {
        EgressPolicy egress = egress(n.child("egress"));
        if (n.has("services")) {
            n.problem("services", "an edge publishes no services: it connects wherever its PoPs' users ask, as egress allows");
        }
        TunnelClientConfig tunnels = TunnelSections.client(n); // reads the rest and finishes the node
        return tunnels == null || egress == null ? null : new EdgeConfig(tunnels, egress);
    }

    private static EgressPolicy egress(ConfigNode n) {
        if (!n.isPresent()) {
            return EgressPolicy.allowing(List.of());
        }
        List<Cidr> allow = cidrs(n, "allow");
        List<Cidr> deny = cidrs(n, "deny");
        Set<Integer> ports = new HashSet<>(EgressPolicy.DEFAULT_DENY_PORTS);
        if (n.has("deny_ports")) {
            ports.clear();
            for (String p : n.strings("deny_ports")) {
                try {
                    int port = Integer.parseInt(p.strip());
                    if (port < 1 || port > 65_535) {
                        throw new NumberFormatException();
                    }
                    ports.add(port);
                } catch (NumberFormatException ex) {
                    n.problem("deny_ports", "'" + p + "' is not a port (1-65535)");
                }
            }
        }
        List<String> allowDomains = n.strings("allow_domains");
        List<String> denyDomains = n.strings("deny_domains");
        n.finish();
        return new EgressPolicy(allow, deny, ports, allowDomains, denyDomains);
    }

    private static List<Cidr> cidrs(ConfigNode n, String key) {
        List<Cidr> out = new ArrayList<>();
        for (String s : n.strings(key)) {
            try {
                out.add(Cidr.parse(s));
            } catch (IllegalArgumentException e) {
                n.problem(key, e.getMessage());
            }
        }
        return out;
    }
}
