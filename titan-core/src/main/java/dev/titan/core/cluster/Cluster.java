package dev.titan.core.cluster;

import dev.titan.core.balance.Balancer;
import dev.titan.core.balance.PickContext;
import dev.titan.core.config.ClusterConfig;
import dev.titan.core.endpoint.AddressList;
import dev.titan.core.endpoint.AddressSource;
import dev.titan.core.endpoint.EndpointSource;
import dev.titan.core.net.Connector;
import dev.titan.core.net.TcpConnector;
import dev.titan.core.pool.EndpointPool;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.time.Clock;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A named set of endpoints and the machinery that chooses among them: the endpoint source,
 * probing, seed 001's scorer, the debounced active set, a balancer, pre-connected pools, passive
 * failure signals with outlier ejection, and connect retries. The same for every kind of endpoint:
 * addresses the forwarder dials, and peers (tunnel clients, edges) reached through their tunnels.
 *
 * <p>Threading: all state changes run on one control event loop; event loops that connect
 * clients read only immutable snapshots ({@link Routing}) and per-endpoint atomics, and post
 * their passive signals to the control loop.
 */
public final class Cluster implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Cluster.class);

    private final String name;
    private final Connector connector;
    final Clock clock;
    final EventLoop control;
    private final List<io.netty.util.concurrent.ScheduledFuture<?>> tasks = new ArrayList<>();
    private final ClusterProbing probing;
    private final ClusterPools pools;
    final Routing routing;

    private volatile ClusterConfig config;
    private volatile Balancer balancer;
    final ActiveSetSelector selector;
    private EndpointSource source;
    volatile AddressList addresses = AddressList.EMPTY;
    // control loop only
    final Map<Object, Endpoint> tracked = new LinkedHashMap<>();
    volatile boolean closed;
    private final ClusterStats stats = new ClusterStats();
    private final Outliers outliers;
    private final ConnectAttempts attempts;

    /** A cluster whose endpoints come from its configuration's address list. */
    public Cluster(ClusterConfig config, TcpConnector connector, EventLoop control, Clock clock) {
        this(config, connector, new AddressSource(config.provider(), config.defaultRemotePort()), control, clock);
    }

    /**
     * A cluster fed by {@code source}, connecting through {@code connector}. Probes and pools dial
     * TCP, so they need a {@link TcpConnector}; a cluster of peers has neither.
     */
    public Cluster(ClusterConfig config, Connector connector, EndpointSource source, EventLoop control, Clock clock) {
        this.name = config.name();
        this.config = config;
        this.connector = connector;
        this.source = source;
        this.control = control;
        this.clock = clock;
        TcpConnector dialer = connector instanceof TcpConnector t ? t : null;
        this.probing = new ClusterProbing(this, dialer == null || config.probing().type().equals("none") ? null : new Prober(dialer, clock));
        this.pools = new ClusterPools(this, dialer);
        this.selector = new ActiveSetSelector(config.selector(), clock);
        this.balancer = Balancer.create(config.balancer());
        this.routing = new Routing(this);
        this.attempts = new ConnectAttempts(this, connector, pools, stats, control, clock);
        this.outliers = new Outliers(name, () -> this.config.outlier(), clock, stats, () -> {
            routing.refresh();
            evaluate();
        });
    }

    public String name() {
        return name;
    }

    public ClusterConfig config() {
        return config;
    }

    public ClusterStats stats() {
        return stats;
    }

    /**
     * Opens the endpoint source (an address source loads its list now, refusing the cluster with a
     * {@link dev.titan.core.config.ConfigException} if it is bad, unless it was loaded already), then
     * starts probing, selection and pool management. The returned future completes when the initial
     * probe round is done (at once if there is none).
     */
    public CompletableFuture<Void> start() {
        CompletableFuture<Void> ready = new CompletableFuture<>();
        control.execute(() -> {
            try {
                source.open(sink);
            } catch (RuntimeException e) {
                ready.completeExceptionally(e);
                return;
            }
            schedule();
            if (probing.enabled() && config.probing().initial().enabled()) {
                probing.initialProbe().addListener(f -> {
                    evaluate();
                    ready.complete(null);
                });
            } else {
                evaluate();
                ready.complete(null);
            }
        });
        return ready;
    }

    /** What the source feeds: the cluster, on its control loop. */
    private final EndpointSource.Sink sink = new EndpointSource.Sink() {
        @Override
        public String name() {
            return name;
        }

        @Override
        public EventLoop executor() {
            return control;
        }

        @Override
        public void replaceAddresses(AddressList list) {
            applyAddresses(list);
            evaluate();
        }

        @Override
        public void add(Endpoint peer) {
            if (!closed) {
                tracked.put(peer.key(), peer);
                evaluate();
            }
        }

        @Override
        public void remove(Endpoint peer) {
            if (tracked.remove(peer.key(), peer)) {
                evaluate();
            }
        }
    };

    private void schedule() {
        ClusterConfig c = config;
        long probe = c.probing().interval().toNanos();
        long eval = c.selector().evaluationInterval().toNanos();
        long scale = c.pools().scalingInterval().toNanos();
        if (probing.enabled()) {
            tasks.add(control.scheduleAtFixedRate(probing::probeRound, probe, probe, TimeUnit.NANOSECONDS));
        }
        tasks.add(control.scheduleAtFixedRate(this::evaluate, eval, eval, TimeUnit.NANOSECONDS));
        tasks.add(control.scheduleAtFixedRate(pools::maintain, scale, scale, TimeUnit.NANOSECONDS));
        long tick = TimeUnit.MILLISECONDS.toNanos(250);
        tasks.add(control.scheduleAtFixedRate(routing::refresh, tick, tick, TimeUnit.NANOSECONDS));
    }

    private void cancelTasks() {
        tasks.forEach(t -> t.cancel(false));
        tasks.clear();
    }

    /** Applies a new configuration of the same cluster without losing scores or connections. */
    public CompletableFuture<Void> reconfigure(ClusterConfig next) {
        AddressSource nextSource = new AddressSource(next.provider(), next.defaultRemotePort());
        return reconfigure(next, nextSource);
    }

    /** Reconfigures with a new source (an address source usually holds the list the caller already loaded and so validated). */
    public CompletableFuture<Void> reconfigure(ClusterConfig next, EndpointSource nextSource) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        control.execute(() -> {
            try {
                ClusterConfig prev = config;
                config = next;
                if (!prev.balancer().equals(next.balancer())) {
                    balancer = Balancer.create(next.balancer());
                }
                selector.reconfigure(next.selector());
                tracked.values().forEach(e -> {
                    e.scoreState().reconfigure(next.scoring());
                    e.refreshScore();
                });
                pools.reconfigure(next.pools());
                if (nextSource != source) {
                    source.close();
                    source = nextSource;
                    source.open(sink);
                }
                cancelTasks();
                if (!closed) {
                    schedule();
                }
                evaluate();
                done.complete(null);
            } catch (RuntimeException e) {
                done.completeExceptionally(e);
            }
        });
        return done;
    }

    private void applyAddresses(AddressList list) {
        addresses = list;
        tracked.values().removeIf(e -> e.address() != null && !list.contains(e.address()));
        if (list.size() <= config.provider().maxTracked()) {
            for (long i = 0; i < list.size(); i++) {
                var a = list.get(i);
                Endpoint e = tracked.get(a);
                if (e == null) {
                    tracked.put(a, new Endpoint(a, list.weight(i), config.scoring()));
                } else {
                    e.weight(list.weight(i));
                }
            }
        }
        routing.refresh();
    }

    /** A probe result or another measurement of {@code e} (a tunnel PING): feeds its score. On the control loop. */
    void recordSample(Endpoint e, boolean success, long latencyNanos) {
        if (success) {
            e.scoreState().recordSuccess(latencyNanos);
        } else {
            e.scoreState().recordFailure();
        }
        e.refreshScore();
    }

    /** A measurement of peer {@code e} taken outside the cluster (a tunnel PING's round trip, or a failed one). */
    public void sample(Endpoint e, boolean success, long latencyNanos) {
        control.execute(() -> {
            if (!closed && tracked.get(e.key()) == e) {
                recordSample(e, success, latencyNanos);
            }
        });
    }

    // ---------------------------------------------------------------- selection

    /** Runs the selector now (on the control loop) and applies a changed active set. */
    void evaluate() {
        if (closed) {
            return;
        }
        long now = clock.nanos();
        List<Endpoint> before = selector.active();
        List<Endpoint> all = new ArrayList<>(tracked.values());
        boolean changed = selector.evaluate(all, Endpoint::score, e -> !e.isEjected(now) && tracked.get(e.key()) == e);
        if (changed) {
            List<Endpoint> after = selector.active();
            log.info("cluster {}: active set {} -> {}", name, ids(before), ids(after));
            stats.selectorSwitched();
            pools.sync(before, after);
        }
        routing.refresh();
    }

    private static String ids(List<Endpoint> l) {
        return l.stream().map(Endpoint::id).toList().toString();
    }

    /** Up to {@code n} endpoints for addresses picked at random from the list (tracked from now on), while none is scored. */
    List<Endpoint> probingSample(int n) {
        return probing.sample(Math.min(addresses.size(), n)).stream()
                .map(a -> tracked.computeIfAbsent(a, k -> new Endpoint(a, 1, config.scoring())))
                .toList();
    }

    /** Whether active probes measure this cluster's endpoints. */
    boolean probes() {
        return probing.enabled();
    }

    /** Whether {@code e} is in the active set now (on the control loop). */
    boolean isActive(Endpoint e) {
        return selector.active().contains(e);
    }

    // ---------------------------------------------------------------- connecting

    /** A connection to an endpoint, with any bytes the endpoint sent before it was handed over. */
    public record Connection(Channel channel, Endpoint endpoint, ByteBuf early) {
    }

    /**
     * Chooses an endpoint for a new connection or flow: the balancer over the active set less
     * ejected endpoints, or over the fallback list while there is none; null if nothing is left
     * after {@code exclude}. Counts the pick.
     */
    public Endpoint pick(long hashKey, Set<Endpoint> exclude) {
        return pick(hashKey, exclude, null);
    }

    /** The same among the endpoints {@code eligible} accepts (null: any). */
    public Endpoint pick(long hashKey, Set<Endpoint> exclude, Predicate<Endpoint> eligible) {
        Endpoint e = choose(hashKey, exclude, eligible);
        if (e != null) {
            stats.picked(e);
        }
        return e;
    }

    /** The balancer's choice as {@link #pick}, without counting it: for a module that decides ahead of a connect (a sticky session's edge). */
    public Endpoint choose(long hashKey, Set<Endpoint> exclude, Predicate<Endpoint> eligible) {
        return routing.pick(balancer, new PickContext(hashKey, exclude, clock.nanos(), eligible));
    }

    /**
     * Connects {@code request} to an endpoint chosen by the balancer, on {@code loop}, through the
     * cluster's connector (which sends the request's first bytes), retrying a failed connect on
     * another endpoint with the same first bytes ({@link ConnectAttempts}).
     */
    public Future<Connection> connect(EventLoop loop, DestinationRequest request) {
        return attempts.connect(loop, request, null);
    }

    /** The same among the endpoints {@code eligible} accepts (null: any); none of them: {@link NoEndpointException}. */
    public Future<Connection> connect(EventLoop loop, DestinationRequest request, Predicate<Endpoint> eligible) {
        return attempts.connect(loop, request, eligible);
    }

    /** Reports that a real connection to {@code e} failed after connecting (e.g. reset before any reply). */
    public void reportFailure(Endpoint e) {
        control.execute(() -> passive(e, false, 0));
    }

    /** Reports that a real connection to {@code e} ended well after the endpoint answered: ends a failure streak. */
    public void reportSuccess(Endpoint e) {
        if (Outliers.streakToEnd(e)) { // the common case has nothing to end: no task for the control loop
            control.execute(() -> outliers.answered(e));
        }
    }

    /** A result of a real connection: feeds the same score as probes, and ejects repeat offenders. */
    void passive(Endpoint e, boolean success, long latencyNanos) {
        if (!closed) {
            outliers.result(e, success, latencyNanos);
        }
    }

    /** Marks a connection as carrying traffic (active counts, pool sizing, drain tracking). */
    public void opened(Connection c) {
        c.endpoint().connectionOpened();
        c.endpoint().track(c.channel());
        EndpointPool p = pools.of(c.endpoint());
        if (p != null) {
            p.connectionStarted();
        }
        c.channel().closeFuture().addListener(f -> {
            c.endpoint().connectionClosed();
            if (p != null) {
                p.connectionEnded();
            }
        });
    }

    // ---------------------------------------------------------------- status

    /** A consistent copy of every endpoint's state, taken on the control loop. */
    public CompletableFuture<List<EndpointStatus>> status() {
        return onControl(this::statusNow);
    }

    private <T> CompletableFuture<T> onControl(java.util.function.Supplier<T> what) {
        CompletableFuture<T> f = new CompletableFuture<>();
        Runnable take = () -> f.complete(what.get());
        if (control.inEventLoop()) {
            take.run();
        } else {
            control.execute(take);
        }
        return f;
    }

    private List<EndpointStatus> statusNow() {
        return EndpointStatus.of(tracked.values(), Set.copyOf(selector.active()), clock.nanos(), config.selector().minScoreThreshold(), pools::of);
    }

    /** How many endpoints the source offers: the address list's size, or the peers connected. */
    public long addressCount() {
        long n = addresses.size();
        return n > 0 ? n : tracked.size();
    }

    public List<Endpoint> active() {
        return selector.active();
    }

    /** Endpoints worth a metric label: the active set, then the best others, at most {@code limit}. */
    public CompletableFuture<List<Endpoint>> labelledEndpoints(int limit) {
        return onControl(() -> {
            List<Endpoint> out = new ArrayList<>(selector.active());
            tracked.values().stream()
                    .filter(e -> !out.contains(e) && e.scoreState().hasSamples())
                    .sorted(Comparator.comparingDouble(Endpoint::score).reversed())
                    .limit(Math.max(0, limit - out.size()))
                    .forEach(out::add);
            return out.size() > limit ? out.subList(0, limit) : out;
        });
    }

    /** The pool of an endpoint, if it is active and pooling is on. */
    public EndpointPool pool(Endpoint e) {
        return pools.of(e);
    }

    public Map<Endpoint, EndpointPool> pools() {
        return pools.view();
    }

    @Override
    public void close() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Runnable shut = () -> {
            try {
                closed = true;
                cancelTasks();
                source.close();
                pools.close();
            } finally {
                done.complete(null);
            }
        };
        if (control.inEventLoop()) {
            shut.run();
        } else if (!control.isShuttingDown()) {
            control.execute(shut);
            try {
                done.get(5, TimeUnit.SECONDS);
            } catch (Exception e) {
                log.warn("cluster {}: close did not finish in 5 s", name, e);
            }
        }
    }

    /** Failing a connect because the cluster has no endpoint to offer. */
    public static final class NoEndpointException extends Exception {
        NoEndpointException(String cluster) {
            super("cluster " + cluster + " has no available endpoint", null, false, false);
        }
    }
}
