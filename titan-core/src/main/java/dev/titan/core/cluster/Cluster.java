package dev.titan.core.cluster;

import dev.titan.core.balance.Balancer;
import dev.titan.core.balance.PickContext;
import dev.titan.core.config.ClusterConfig;
import dev.titan.core.config.ConfigException;
import dev.titan.core.endpoint.AddressList;
import dev.titan.core.endpoint.EndpointSource;
import dev.titan.core.net.Connector;
import dev.titan.core.pool.EndpointPool;
import dev.titan.core.time.Clock;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A named set of endpoints and the machinery that chooses among them: the endpoint source,
 * probing, seed 001's scorer, the debounced active set, a balancer, pre-connected pools, passive
 * failure signals with outlier ejection, and connect retries.
 *
 * <p>Threading: all state changes run on one control event loop; event loops that connect
 * clients read only immutable snapshots ({@link #routable}) and per-endpoint atomics, and post
 * their passive signals to the control loop.
 */
public final class Cluster implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Cluster.class);

    private final String name;
    private final Connector connector;
    private final Prober prober;
    private final Clock clock;
    private final EventLoop control;
    private final ExecutorService blocking = Executors.newVirtualThreadPerTaskExecutor();
    private final List<io.netty.util.concurrent.ScheduledFuture<?>> tasks = new ArrayList<>();

    private volatile ClusterConfig config;
    private volatile Balancer balancer;
    private final ActiveSetSelector selector;
    private EndpointSource source;
    private volatile AddressList addresses = AddressList.EMPTY;
    // control loop only
    private final Map<InetSocketAddress, Endpoint> tracked = new LinkedHashMap<>();
    private final Map<Endpoint, EndpointPool> pools = new HashMap<>();
    private boolean probing;
    private boolean panic; // every candidate ejected: routing over them anyway
    private boolean started;
    private volatile boolean closed;
    // read by every event loop
    private volatile List<Endpoint> routable = List.of();
    private volatile List<Endpoint> fallback = List.of();
    private volatile Map<Endpoint, EndpointPool> poolView = Map.of();
    private final ClusterStats stats = new ClusterStats();

    public Cluster(ClusterConfig config, Connector connector, EventLoop control, Clock clock) {
        this.name = config.name();
        this.config = config;
        this.connector = connector;
        this.control = control;
        this.clock = clock;
        this.prober = new Prober(connector, clock);
        this.selector = new ActiveSetSelector(config.selector(), clock);
        this.balancer = Balancer.create(config.balancer());
        this.source = new EndpointSource(config.provider(), config.defaultRemotePort());
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
     * Loads the endpoint source (refusing the cluster with a {@link ConfigException} if it is bad),
     * then starts probing, selection and pool management. The returned future completes when the
     * initial probe round is done (at once if it is disabled).
     */
    public CompletableFuture<Void> start() {
        return start(source.load());
    }

    /** Starts with an endpoint list the caller already loaded (and so validated) from this cluster's source. */
    public CompletableFuture<Void> start(AddressList list) {
        CompletableFuture<Void> ready = new CompletableFuture<>();
        control.execute(() -> {
            applyAddresses(list);
            started = true;
            schedule();
            if (config.probing().initial().enabled()) {
                initialProbe().addListener(f -> {
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

    private void schedule() {
        ClusterConfig c = config;
        long probe = c.probing().interval().toNanos();
        long eval = c.selector().evaluationInterval().toNanos();
        long scale = c.pools().scalingInterval().toNanos();
        tasks.add(control.scheduleAtFixedRate(this::probeRound, probe, probe, TimeUnit.NANOSECONDS));
        tasks.add(control.scheduleAtFixedRate(this::evaluate, eval, eval, TimeUnit.NANOSECONDS));
        tasks.add(control.scheduleAtFixedRate(this::maintainPools, scale, scale, TimeUnit.NANOSECONDS));
        long tick = TimeUnit.MILLISECONDS.toNanos(250);
        tasks.add(control.scheduleAtFixedRate(this::refreshRoutable, tick, tick, TimeUnit.NANOSECONDS));
        if (source.isFile() && c.provider().watch()) {
            long watch = TimeUnit.SECONDS.toNanos(1);
            tasks.add(control.scheduleAtFixedRate(() -> {
                if (source.fileChanged()) {
                    reloadSource("file changed");
                }
            }, watch, watch, TimeUnit.NANOSECONDS));
        }
        long dns = c.provider().dnsRefresh().toNanos();
        tasks.add(control.scheduleAtFixedRate(() -> {
            if (source.hadHostNames()) {
                reloadSource("DNS refresh");
            }
        }, dns, dns, TimeUnit.NANOSECONDS));
    }

    private void cancelTasks() {
        tasks.forEach(t -> t.cancel(false));
        tasks.clear();
    }

    /** Applies a new configuration of the same cluster without losing scores or connections. */
    public CompletableFuture<Void> reconfigure(ClusterConfig next) {
        EndpointSource nextSource = new EndpointSource(next.provider(), next.defaultRemotePort());
        return reconfigure(next, nextSource, nextSource.load());
    }

    /** Reconfigures with an endpoint list already loaded from {@code nextSource} (one DNS/file read per reload). */
    public CompletableFuture<Void> reconfigure(ClusterConfig next, EndpointSource nextSource, AddressList list) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        control.execute(() -> {
            ClusterConfig prev = config;
            config = next;
            source = nextSource;
            if (!prev.balancer().equals(next.balancer())) {
                balancer = Balancer.create(next.balancer());
            }
            selector.reconfigure(next.selector());
            tracked.values().forEach(e -> {
                e.scoreState().reconfigure(next.scoring());
                e.refreshScore();
            });
            pools.values().forEach(p -> p.reconfigure(next.pools()));
            applyAddresses(list);
            cancelTasks();
            if (!closed) {
                schedule();
            }
            evaluate();
            done.complete(null);
        });
        return done;
    }

    private void reloadSource(String why) {
        EndpointSource s = source;
        blocking.execute(() -> {
            try {
                AddressList list = s.load();
                control.execute(() -> {
                    if (s == source && !closed) {
                        log.info("cluster {}: endpoints reloaded ({}): {} addresses", name, why, list.size());
                        applyAddresses(list);
                        evaluate();
                    }
                });
            } catch (ConfigException e) {
                log.error("cluster {}: endpoint list not reloaded ({}), keeping the current one: {}", name, why, e.getMessage());
            }
        });
    }

    private void applyAddresses(AddressList list) {
        addresses = list;
        tracked.values().removeIf(e -> !list.contains(e.address()));
        if (list.size() <= config.provider().maxTracked()) {
            for (long i = 0; i < list.size(); i++) {
                InetSocketAddress a = list.get(i);
                Endpoint e = tracked.get(a);
                if (e == null) {
                    tracked.put(a, new Endpoint(a, list.weight(i), config.scoring()));
                } else {
                    e.weight(list.weight(i));
                }
            }
        }
        refreshRoutable();
    }

    // ---------------------------------------------------------------- probing

    private Future<?> initialProbe() {
        ClusterConfig.Initial init = config.probing().initial();
        List<InetSocketAddress> targets = sample(Math.min(addresses.size(), init.maxCandidates()));
        Promise<Void> all = control.newPromise();
        AtomicInteger next = new AtomicInteger();
        AtomicInteger remaining = new AtomicInteger(targets.size());
        if (targets.isEmpty()) {
            all.setSuccess(null);
            return all;
        }
        int lanes = Math.min(init.maxConcurrency(), targets.size());
        for (int i = 0; i < lanes; i++) {
            probeNext(targets, next, remaining, all, init.timeout());
        }
        return all;
    }

    /** One lane of the initial probe: probes targets one after another until none are left. */
    private void probeNext(List<InetSocketAddress> targets, AtomicInteger next, AtomicInteger remaining, Promise<Void> all,
                           java.time.Duration timeout) {
        int i = next.getAndIncrement();
        if (i >= targets.size() || closed) {
            return;
        }
        probe(targets.get(i), timeout).addListener(f -> {
            if (remaining.decrementAndGet() == 0) {
                all.trySuccess(null);
            }
            probeNext(targets, next, remaining, all, timeout);
        });
    }

    private void probeRound() {
        if (probing || closed) {
            return; // the previous round is still running
        }
        List<InetSocketAddress> candidates = probeCandidates(config.probing().probeCandidateCount());
        if (candidates.isEmpty()) {
            return;
        }
        probing = true;
        AtomicInteger remaining = new AtomicInteger(candidates.size());
        for (InetSocketAddress a : candidates) {
            probe(a, config.probing().timeout()).addListener(f -> {
                if (remaining.decrementAndGet() == 0) {
                    probing = false;
                    evictUntracked();
                    if (selector.active().isEmpty()) {
                        evaluate(); // still bootstrapping: do not wait for the evaluation interval
                    }
                }
            });
        }
    }

    /**
     * Who to probe this round: active members first (they carry traffic), then endpoints never
     * probed and the stalest ones, alternating; a small list is probed whole.
     */
    List<InetSocketAddress> probeCandidates(int count) {
        Set<InetSocketAddress> out = new java.util.LinkedHashSet<>();
        for (Endpoint e : selector.active()) {
            if (out.size() < count) {
                out.add(e.address());
            }
        }
        List<Endpoint> stale = tracked.values().stream()
                .filter(e -> !out.contains(e.address()))
                .sorted(Comparator.comparingLong(Endpoint::lastProbeNanos))
                .toList();
        boolean big = addresses.size() > tracked.size();
        int si = 0;
        int misses = 0;
        boolean unknownTurn = true;
        while (out.size() < count && (si < stale.size() || (big && misses < count * 4))) {
            if (big && unknownTurn && misses < count * 4) {
                InetSocketAddress a = addresses.get(ThreadLocalRandom.current().nextLong(addresses.size()));
                if (tracked.containsKey(a) || !out.add(a)) {
                    misses++;
                }
            } else if (si < stale.size()) {
                out.add(stale.get(si++).address());
            }
            unknownTurn = !unknownTurn;
            if (si >= stale.size()) {
                unknownTurn = true;
            }
        }
        return new ArrayList<>(out);
    }

    private List<InetSocketAddress> sample(long n) {
        if (n >= addresses.size()) {
            return addresses.size() <= Integer.MAX_VALUE ? addresses.toList() : List.of();
        }
        Set<InetSocketAddress> out = new java.util.LinkedHashSet<>();
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        while (out.size() < n) {
            out.add(addresses.get(rnd.nextLong(addresses.size())));
        }
        return new ArrayList<>(out);
    }

    private Future<Prober.Result> probe(InetSocketAddress a, java.time.Duration timeout) {
        Promise<Prober.Result> p = prober.probe(a, config.probing(), timeout, control);
        p.addListener(f -> {
            Prober.Result r = p.getNow();
            if (r == null || closed) {
                return;
            }
            Endpoint e = tracked.get(a);
            if (e == null) {
                if (!addresses.contains(a)) {
                    return; // removed from the source meanwhile
                }
                e = new Endpoint(a, 1, config.scoring());
                tracked.put(a, e);
            }
            e.lastProbeNanos(clock.nanos());
            stats.probe(r.success(), r.latencyNanos());
            if (r.success()) {
                e.probeSucceeded();
                e.scoreState().recordSuccess(r.latencyNanos());
            } else {
                e.scoreState().recordFailure();
                log.debug("cluster {}: probe {} failed: {}", name, e, r.error());
            }
            e.refreshScore();
        });
        return p;
    }

    /** Keeps the number of tracked endpoints under {@code max_tracked}, dropping the least useful. */
    private void evictUntracked() {
        int max = config.provider().maxTracked();
        if (tracked.size() <= max) {
            return;
        }
        Set<Endpoint> keep = new HashSet<>(selector.active());
        List<Endpoint> victims = tracked.values().stream()
                .filter(e -> !keep.contains(e) && e.activeConnections() == 0)
                .sorted(Comparator.comparingDouble(Endpoint::score).thenComparingLong(Endpoint::lastProbeNanos))
                .limit(tracked.size() - max)
                .toList();
        victims.forEach(e -> tracked.remove(e.address()));
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
        boolean changed = selector.evaluate(all, Endpoint::score, e -> !e.isEjected(now) && tracked.containsKey(e.address()));
        if (changed) {
            List<Endpoint> after = selector.active();
            log.info("cluster {}: active set {} -> {}", name, ids(before), ids(after));
            stats.selectorSwitched();
            syncPools(before, after);
        }
        refreshRoutable();
    }

    private static String ids(List<Endpoint> l) {
        return l.stream().map(Endpoint::id).toList().toString();
    }

    private void syncPools(List<Endpoint> before, List<Endpoint> after) {
        Set<Endpoint> now = Set.copyOf(after);
        for (Endpoint left : before) {
            if (!now.contains(left)) {
                EndpointPool p = pools.remove(left);
                if (p != null) {
                    p.close();
                }
                scheduleDrain(left);
            }
        }
        if (config.pools().enabled()) {
            for (Endpoint e : after) {
                pools.computeIfAbsent(e, k -> {
                    EndpointPool p = new EndpointPool(k.address(), connector, control.parent(), config.pools(), clock);
                    p.refill();
                    return p;
                });
            }
        }
        poolView = Map.copyOf(pools);
    }

    /** Established connections to an endpoint that left the active set end within {@code drain_timeout}. */
    private void scheduleDrain(Endpoint e) {
        long drain = config.pools().drainTimeout().toNanos();
        if (drain == 0) {
            return;
        }
        control.schedule(() -> {
            if (!selector.active().contains(e)) {
                int n = e.closeLive();
                if (n > 0) {
                    log.info("cluster {}: closed {} connections to {} after drain_timeout", name, n, e);
                }
            }
        }, drain, TimeUnit.NANOSECONDS);
    }

    private void maintainPools() {
        pools.values().forEach(EndpointPool::maintain);
    }

    /**
     * Recomputes the lists that event loops pick from: the active set less ejected endpoints; while
     * there is none, the best scored or untested ones; and when every one of those is ejected, the
     * ejected ones after all. Ejection moves traffic to better endpoints; on its own it never
     * refuses every connection, since it rests on a guess from passive signals and a refusal is
     * certain (Envoy calls this panic routing). Probes that find an endpoint down still take it out.
     */
    private void refreshRoutable() {
        long now = clock.nanos();
        List<Endpoint> active = selector.active();
        List<Endpoint> r = active.stream().filter(e -> !e.isEjected(now)).toList();
        if (!r.equals(routable)) {
            routable = r;
        }
        if (r.isEmpty()) {
            // nothing selected yet (or all ejected): the best scored, else untested addresses
            List<Endpoint> best = bestScored(now, false);
            if (best.isEmpty()) {
                best = tracked.values().stream().filter(e -> !e.isEjected(now) && !e.scoreState().hasSamples()).toList();
                if (best.isEmpty() && !addresses.isEmpty() && tracked.size() < addresses.size()) {
                    best = sample(Math.min(addresses.size(), 16)).stream()
                            .map(a -> tracked.computeIfAbsent(a, k -> new Endpoint(k, 1, config.scoring())))
                            .toList();
                }
            }
            boolean panicNow = false;
            if (best.isEmpty()) {
                best = active.isEmpty() ? bestScored(now, true) : active;
                panicNow = !best.isEmpty();
            }
            panic(panicNow);
            if (!best.equals(fallback)) {
                fallback = best;
            }
        } else {
            if (!fallback.isEmpty()) {
                fallback = List.of();
            }
            panic(false);
        }
    }

    /** Up to an active set's worth of the best-scored endpoints that are (or are not) ejected. */
    private List<Endpoint> bestScored(long now, boolean ejected) {
        return tracked.values().stream()
                .filter(e -> e.isEjected(now) == ejected && e.score() > 0)
                .sorted(Comparator.comparingDouble(Endpoint::score).reversed())
                .limit(config.selector().activeSetSize())
                .toList();
    }

    private void panic(boolean now) {
        if (now == panic) {
            return;
        }
        panic = now;
        if (now) {
            log.warn("cluster {}: every candidate endpoint is ejected; routing to them anyway", name);
        } else {
            log.info("cluster {}: an endpoint is routable again; ejected ones get no traffic", name);
        }
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
        PickContext ctx = new PickContext(hashKey, exclude, clock.nanos());
        List<Endpoint> candidates = routable;
        Endpoint e = candidates.isEmpty() ? null : balancer.pick(candidates, ctx);
        if (e == null) {
            List<Endpoint> fb = fallback;
            e = fb.isEmpty() ? null : balancer.pick(fb, ctx);
        }
        if (e != null) {
            stats.picked(e);
        }
        return e;
    }

    /**
     * Connects to an endpoint chosen by the balancer, on {@code loop}. A connect that fails (before
     * any byte was sent) is retried on another endpoint up to {@code connect_attempts} times.
     */
    public Future<Connection> connect(EventLoop loop, long hashKey) {
        Promise<Connection> promise = loop.newPromise();
        attempt(loop, hashKey, new HashSet<>(2), config.connectAttempts(), promise, null);
        return promise;
    }

    private void attempt(EventLoop loop, long hashKey, Set<Endpoint> tried, int left, Promise<Connection> promise, Throwable last) {
        if (closed) {
            promise.tryFailure(new IllegalStateException("cluster " + name + " is closed"));
            return;
        }
        Endpoint e = pick(hashKey, tried);
        if (e == null) {
            stats.noEndpoint();
            promise.tryFailure(last != null ? last : new NoEndpointException(name));
            return;
        }
        Endpoint chosen = e;
        EndpointPool pool = poolView.get(chosen);
        EndpointPool.Lease lease = pool == null ? null : pool.acquire(loop);
        if (lease != null) {
            stats.poolHit();
            promise.trySuccess(new Connection(lease.channel(), chosen, lease.early()));
            return;
        }
        if (pool != null) {
            stats.poolMiss();
        }
        long start = clock.nanos();
        ChannelFuture cf = connector.connect(chosen.address(), loop, config.pools().dialTimeout());
        cf.addListener(f -> {
            long elapsed = clock.nanos() - start;
            if (f.isSuccess()) {
                chosen.recordLatencySample(elapsed, clock.nanos());
                control.execute(() -> passive(chosen, true, elapsed));
                if (!promise.trySuccess(new Connection(cf.channel(), chosen, null))) {
                    cf.channel().close(); // the client went away meanwhile
                }
                return;
            }
            control.execute(() -> passive(chosen, false, 0));
            tried.add(chosen);
            if (left > 1 && !promise.isDone()) {
                log.debug("cluster {}: connect to {} failed ({}), retrying on another endpoint", name, chosen, f.cause().toString());
                attempt(loop, hashKey, tried, left - 1, promise, f.cause());
            } else {
                promise.tryFailure(f.cause());
            }
        });
    }

    /** Reports that a real connection to {@code e} failed after connecting (e.g. reset before any reply). */
    public void reportFailure(Endpoint e) {
        control.execute(() -> passive(e, false, 0));
    }

    /** Reports that a real connection to {@code e} ended well after the endpoint answered: ends a failure streak. */
    public void reportSuccess(Endpoint e) {
        if (e.passiveFailures() != 0) { // the common case has no streak to end: no task for the control loop
            control.execute(() -> e.passiveFailures(0));
        }
    }

    /** A result of a real connection: feeds the same score as probes, and ejects repeat offenders. */
    private void passive(Endpoint e, boolean success, long latencyNanos) {
        if (closed) {
            return;
        }
        if (success) {
            // a connect that succeeds does not end a failure streak by itself: the connection may
            // still be reset before it answers (see reportSuccess)
            e.scoreState().recordSuccess(latencyNanos);
        } else {
            e.scoreState().recordFailure();
            e.passiveFailures(e.passiveFailures() + 1);
            ClusterConfig.Outlier o = config.outlier();
            long now = clock.nanos();
            if (e.passiveFailures() >= o.consecutiveFailures() && !e.isEjected(now)) {
                long base = o.baseEjectionTime().toNanos();
                long time = Math.min(o.maxEjectionTime().toNanos(), base << Math.min(20, e.ejections()));
                e.eject(now + time);
                e.passiveFailures(0);
                stats.ejected();
                log.warn("cluster {}: {} ejected for {} ms after failed connections", name, e, time / 1_000_000);
                refreshRoutable();
                evaluate();
            }
        }
        e.refreshScore();
    }

    /** Marks a connection as carrying traffic (active counts, pool sizing, drain tracking). */
    public void opened(Connection c) {
        c.endpoint().connectionOpened();
        c.endpoint().track(c.channel());
        EndpointPool p = poolView.get(c.endpoint());
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
        CompletableFuture<List<EndpointStatus>> f = new CompletableFuture<>();
        Runnable take = () -> f.complete(statusNow());
        if (control.inEventLoop()) {
            take.run();
        } else {
            control.execute(take);
        }
        return f;
    }

    private List<EndpointStatus> statusNow() {
        long now = clock.nanos();
        Set<Endpoint> active = Set.copyOf(selector.active());
        List<EndpointStatus> out = new ArrayList<>();
        List<Endpoint> sorted = tracked.values().stream()
                .sorted(Comparator.comparing((Endpoint e) -> !active.contains(e)).thenComparing(Comparator.comparingDouble(Endpoint::score).reversed()))
                .toList();
        for (Endpoint e : sorted) {
            String state = e.isEjected(now) ? "ejected"
                    : active.contains(e) ? "active"
                    : !e.scoreState().hasSamples() ? "unknown"
                    : e.score() < config.selector().minScoreThreshold() ? "down" : "standby";
            EndpointPool p = pools.get(e);
            out.add(new EndpointStatus(e.id(), state, e.scoreState().breakdown(), e.activeConnections(), e.totalConnections(),
                    p == null ? 0 : p.idleCount(), e.weight()));
        }
        return out;
    }

    /** One endpoint in the status view. */
    public record EndpointStatus(String endpoint, String state, dev.titan.core.scoring.EndpointScore.Breakdown score,
                                 int activeConnections, long totalConnections, int pooledIdle, int weight) {
    }

    public long addressCount() {
        return addresses.size();
    }

    public List<Endpoint> active() {
        return selector.active();
    }

    /** Endpoints worth a metric label: the active set, then the best others, at most {@code limit}. */
    public CompletableFuture<List<Endpoint>> labelledEndpoints(int limit) {
        CompletableFuture<List<Endpoint>> f = new CompletableFuture<>();
        control.execute(() -> {
            List<Endpoint> out = new ArrayList<>(selector.active());
            tracked.values().stream()
                    .filter(e -> !out.contains(e) && e.scoreState().hasSamples())
                    .sorted(Comparator.comparingDouble(Endpoint::score).reversed())
                    .limit(Math.max(0, limit - out.size()))
                    .forEach(out::add);
            f.complete(out.size() > limit ? out.subList(0, limit) : out);
        });
        return f;
    }

    /** The pool of an endpoint, if it is active and pooling is on. */
    public EndpointPool pool(Endpoint e) {
        return poolView.get(e);
    }

    public Map<Endpoint, EndpointPool> pools() {
        return poolView;
    }

    @Override
    public void close() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Runnable shut = () -> {
            try {
                closed = true;
                cancelTasks();
                pools.values().forEach(EndpointPool::close);
                pools.clear();
                poolView = Map.of();
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
        blocking.shutdownNow();
    }

    /** Failing a connect because the cluster has no endpoint to offer. */
    public static final class NoEndpointException extends Exception {
        NoEndpointException(String cluster) {
            super("cluster " + cluster + " has no available endpoint", null, false, false);
        }
    }

    /** Cluster-wide counters, read by metrics. */
    public static final class ClusterStats {
        private final AtomicLong probesOk = new AtomicLong();
        private final AtomicLong probesFailed = new AtomicLong();
        private final AtomicLong probeNanos = new AtomicLong();
        private final AtomicLong poolHits = new AtomicLong();
        private final AtomicLong poolMisses = new AtomicLong();
        private final AtomicLong ejections = new AtomicLong();
        private final AtomicLong noEndpoint = new AtomicLong();
        private final AtomicLong switches = new AtomicLong();
        private final AtomicLong picks = new AtomicLong();
        private volatile ProbeListener probeListener;

        /** Called for every finished probe (for the probe-duration histogram). */
        public interface ProbeListener {
            void probed(boolean success, long nanos);
        }

        public void probeListener(ProbeListener l) {
            probeListener = l;
        }

        void probe(boolean ok, long nanos) {
            (ok ? probesOk : probesFailed).incrementAndGet();
            if (ok) {
                probeNanos.addAndGet(nanos);
            }
            ProbeListener l = probeListener;
            if (l != null) {
                l.probed(ok, nanos);
            }
        }

        void poolHit() {
            poolHits.incrementAndGet();
        }

        void poolMiss() {
            poolMisses.incrementAndGet();
        }

        void ejected() {
            ejections.incrementAndGet();
        }

        void noEndpoint() {
            noEndpoint.incrementAndGet();
        }

        void selectorSwitched() {
            switches.incrementAndGet();
        }

        void picked(Endpoint e) {
            picks.incrementAndGet();
            e.picked();
        }

        public long probesOk() {
            return probesOk.get();
        }

        public long probesFailed() {
            return probesFailed.get();
        }

        public long poolHits() {
            return poolHits.get();
        }

        public long poolMisses() {
            return poolMisses.get();
        }

        public long ejections() {
            return ejections.get();
        }

        public long noEndpointFailures() {
            return noEndpoint.get();
        }

        public long switches() {
            return switches.get();
        }

        public long picks() {
            return picks.get();
        }
    }
}
