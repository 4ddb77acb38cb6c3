package dev.titan.overlay;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.cluster.Endpoint;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.time.Clock;
import dev.titan.tunnel.ServerSession;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import dev.titan.core.config.HostPort;
import dev.titan.core.config.ListenerConfig;
import dev.titan.core.config.Section;
import dev.titan.core.engine.ClusterRegistry;
import dev.titan.core.ingress.Forwarder;
import dev.titan.core.ingress.IngressFactory;
import dev.titan.core.metrics.TitanMetrics;
import dev.titan.core.limit.UserAccounts;
import dev.titan.core.net.Cidr;
import dev.titan.core.net.Transport;
import dev.titan.core.route.Router;
import dev.titan.core.store.ConfigStore;
import dev.titan.core.store.Store;
import dev.titan.core.store.UsageFile;
import dev.titan.l4.TcpListener;
import dev.titan.tunnel.TunnelServer;
import dev.titan.tunnel.TunnelServerConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The overlay's entrance: users connect over SOCKS5, an HTTP proxy or a mixed port; edges dial in
 * over the tunnel and become endpoints of one cluster ({@value #EDGES}), labelled with their id and
 * the labels they sent. Each user connection takes the core's path: the port's ingress makes a
 * request naming the target and the user, the router sends it to the edge cluster, whose balancer
 * picks an edge, whose tunnel connector opens a stream naming {@code host:port}, and the relay
 * copies bytes. The name is resolved at the edge.
 */
public final class Pop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Pop.class);
    /** The cluster of a PoP's edges. */
    public static final String EDGES = "pop:edges";

    /**
     * A PoP: its proxy ports (null: not opened), where edges dial in (the tunnel server's
     * configuration: edge ids and secrets as its users), the proxy users, the networks admitted
     * without credentials, and whether anyone may use it ({@code open}, refused unless explicit).
     */
    public record Config(InetSocketAddress socks, InetSocketAddress http, InetSocketAddress mixed, TunnelServerConfig edges,
                         List<Store.User> users, List<SourceRule> sources, boolean open, Duration handshakeTimeout, Duration idleTimeout,
                         Map<String, RoutingPolicy> routing, ZeroRtt zeroRtt, UsageStore usage, boolean browserInfo,
                         Diagnostics.Thresholds unstable)
            implements Section {
        public Config {
            unstable = unstable == null ? Diagnostics.Thresholds.DEFAULT : unstable;
            zeroRtt = zeroRtt == null ? ZeroRtt.DEFAULT : zeroRtt;
            Objects.requireNonNull(edges, "edges");
            users = List.copyOf(users);
            sources = List.copyOf(sources);
            routing = Map.copyOf(routing);
            if (socks == null && http == null && mixed == null) {
                throw new IllegalArgumentException("a PoP needs a socks, http or mixed port");
            }
        }

        @Override
        public String summary() {
            List<String> ports = new ArrayList<>();
            if (socks != null) {
                ports.add("socks " + HostPort.format(socks));
            }
            if (http != null) {
                ports.add("http " + HostPort.format(http));
            }
            if (mixed != null) {
                ports.add("mixed " + HostPort.format(mixed));
            }
            return "PoP " + String.join(", ", ports) + "; edges dial in on " + HostPort.format(edges.listen()) + " (" + edges.users().size()
                    + " edge id(s)); " + users.size() + " user(s)" + (sources.isEmpty() ? "" : ", " + sources.size() + " source rule(s)")
                    + (open ? ", OPEN to anyone" : "");
        }

        /** The same ports: a reload can apply the rest in place. */
        boolean samePorts(Config o) {
            return Objects.equals(socks, o.socks) && Objects.equals(http, o.http) && Objects.equals(mixed, o.mixed)
                    && edges.listen().equals(o.edges.listen());
        }
    }

    /**
     * 0-RTT: answer a SOCKS5 CONNECT (and, if asked, an HTTP CONNECT) at once, and send the client's
     * first bytes (a TLS ClientHello) with the stream's open instead of after the edge's connect,
     * waiting at most {@code firstFlightWait} for them (a protocol whose server speaks first sends
     * none). The price: a target that cannot be reached closes the connection instead of a reply
     * that says why (the PoP's log says it).
     */
    public record ZeroRtt(boolean socks, boolean httpConnect, Duration firstFlightWait) {
        public static final ZeroRtt DEFAULT = new ZeroRtt(true, false, Duration.ofMillis(50));
        public static final ZeroRtt OFF = new ZeroRtt(false, false, Duration.ofMillis(50));
    }

    /**
     * Where the users' and the edges' usage counters are kept across restarts ({@code file}, written
     * every {@code flushInterval}: a crash loses at most that much); null: in memory only.
     */
    public record UsageStore(java.nio.file.Path file, Duration flushInterval) {
    }

    /** Users admitted by the network they connect from, as {@code user}. */
    public record SourceRule(String network, String user) {
    }

    private volatile Config config;
    private final Transport transport;
    private final TitanMetrics metrics;
    private final TunnelServer edges;
    private final PopContext context;
    /** The proxy users, their limits and their usage, which a reload keeps. */
    private final ConfigStore store;
    private final List<TcpListener> listeners = new ArrayList<>();
    private List<io.micrometer.core.instrument.Meter> edgeMeters = List.of();
    private UsageFile usageFile;
    private final Diagnostics diagnostics;
    private java.util.concurrent.ScheduledFuture<?> watch;

    public Pop(Config config, Transport transport, ClusterRegistry clusters, TitanMetrics metrics) {
        this(config, transport, clusters, metrics, Clock.SYSTEM);
    }

    /** A PoP whose sessions and timed routing read {@code clock}. */
    Pop(Config config, Transport transport, ClusterRegistry clusters, TitanMetrics metrics, Clock clock) {
        this.config = config;
        this.transport = transport;
        this.metrics = metrics;
        this.edges = new TunnelServer(config.edges(), transport, clusters, metrics, EDGES);
        this.store = new ConfigStore(config.users());
        this.context = new PopContext(users(store, config), new PopMeters(metrics.registry()), new EdgeRouting(config.routing(), clock),
                new UserAccounts(store), transport);
        this.diagnostics = new Diagnostics(config.unstable(), context.throughput);
    }

    private static ProxyUsers users(Store store, Config c) {
        return new ProxyUsers(store,
                c.sources().stream().map(r -> new ProxyUsers.SourceRule(Cidr.parse(r.network()), r.user())).toList(), c.open());
    }

    /**
     * Applies a reloaded configuration to new connections: users, source rules, openness, edge ids
     * and secrets (edges no longer configured are ended). Other ports need a restart: refused with
     * that reason, and the running configuration stays.
     */
    public void update(Config next) {
        if (!config.samePorts(next)) {
            throw new IllegalArgumentException("pop: the socks, http, mixed or edges.listen_addr port changed: applies at the next start");
        }
        edges.update(next.edges());
        store.replaceUsers(next.users());
        context.users = users(store, next);
        context.browserInfo = next.browserInfo();
        context.routing.policies(next.routing());
        config = next;
    }

    /** Opens the edge port and the proxy ports; returns the edge port's address. */
    public InetSocketAddress start() {
        if (config.usage() != null) {
            try {
                usageFile = UsageFile.open(config.usage().file(), Map.of("users", store, "edges", edges.store()),
                        config.usage().flushInterval());
            } catch (java.io.IOException e) {
                throw new IllegalStateException("pop.usage.file: " + e.getMessage(), e);
            }
        }
        InetSocketAddress at = edges.start();
        edgeMeters = edges.bindMetrics(metrics.registry()); // per edge: tunnels, streams, bytes
        Router router = this::route;
        open("socks", config.socks(), router, (c, f) -> socks(c.name(), f));
        open("http_proxy", config.http(), router, (c, f) -> http(c.name(), f));
        open("mixed", config.mixed(), router, (c, f) -> new MixedIngress(config.handshakeTimeout(), () -> socks(c.name(), f),
                () -> http(c.name(), f), context.meters));
        log.info("PoP: {}", config.summary());
        context.browserInfo = config.browserInfo();
        watch = transport.group().next().scheduleAtFixedRate(this::watchEdges, 10, 10, java.util.concurrent.TimeUnit.SECONDS);
        edgeMeters = new ArrayList<>(edgeMeters);
        edgeMeters.add(io.micrometer.core.instrument.Gauge.builder("titan_pop_edges_unstable", diagnostics, Diagnostics::unstableCount)
                .description("Edges whose jitter, success rate or failures in a row cross the thresholds").register(metrics.registry()));
        return at;
    }

    private Socks5Ingress socks(String listener, Forwarder f) {
        Config c = config;
        return new Socks5Ingress(listener, f, c.handshakeTimeout(), context, c.zeroRtt().socks() ? c.zeroRtt().firstFlightWait() : null);
    }

    private HttpProxyIngress http(String listener, Forwarder f) {
        Config c = config;
        return new HttpProxyIngress(listener, f, c.handshakeTimeout(), context, c.zeroRtt().httpConnect() ? c.zeroRtt().firstFlightWait() : null,
                c.idleTimeout());
    }

    /** Logs [NODE_UNSTABLE] / [NODE_STABLE] for edges whose figures crossed a threshold since the last look. */
    void watchEdges() {
        Cluster c = edges.sharedCluster();
        if (c != null) {
            c.status().thenAccept(list -> diagnostics.logAll(diagnostics.evaluate(list)));
        }
    }

    /** Every request goes to the edge cluster, to the edges its user's routing allows. */
    private Router.Route route(DestinationRequest request) {
        Cluster c = edges.sharedCluster();
        if (c == null) {
            return null;
        }
        if (request.user() == null) {
            return new Router.Route(c, request);
        }
        EdgeRouting.Decision d = context.routing.decide(UserParams.parse(request.user()), new ClusterEdges(c));
        return new Router.Route(c, request, d.eligible());
    }

    /** The edge cluster as routing sees it: the core picker's choice among live tunnels. */
    private record ClusterEdges(Cluster cluster) implements EdgeRouting.Edges {
        @Override
        public Endpoint choose(Predicate<Endpoint> eligible) {
            return cluster.choose(0, Set.of(), eligible.and(ServerSession::isLive));
        }

        @Override
        public boolean live(Endpoint e) {
            return ServerSession.isLive(e);
        }
    }

    private void open(String name, InetSocketAddress at, Router router, IngressFactory ingress) {
        if (at == null) {
            return;
        }
        String listener = "pop_" + name;
        TcpListener l = new TcpListener(ListenerConfig.tcp(listener, EDGES, at, config.idleTimeout()), router, transport,
                metrics.listener(listener), ingress);
        l.start();
        listeners.add(l);
    }

    /** The bound address of a proxy port ({@code socks}, {@code http_proxy}, {@code mixed}), or null. */
    public InetSocketAddress address(String port) {
        return listeners.stream().filter(l -> l.config().name().equals("pop_" + port)).map(TcpListener::boundAddress).findFirst().orElse(null);
    }

    /** The edges' tunnel server. */
    public TunnelServer edges() {
        return edges;
    }

    /** Stops accepting users and edges; open connections go on for up to {@code timeout}. */
    public CompletableFuture<Void> drain(Duration timeout) {
        listeners.forEach(TcpListener::stopAccepting);
        List<CompletableFuture<Void>> all = new ArrayList<>();
        listeners.forEach(l -> all.add(l.drain(timeout)));
        all.add(edges.drain(timeout));
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
    }

    /** Where the PoP's users, their limits and their usage are kept. */
    public Store store() {
        return store;
    }

    @Override
    public void close() {
        if (watch != null) {
            watch.cancel(false);
        }
        edgeMeters.forEach(metrics.registry()::remove);
        listeners.forEach(TcpListener::stopAccepting);
        edges.close();
        if (usageFile != null) {
            usageFile.close(); // the last counts
        }
    }
}
