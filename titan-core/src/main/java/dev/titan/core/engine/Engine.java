package dev.titan.core.engine;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.cluster.Endpoint;
import dev.titan.core.config.ClusterConfig;
import dev.titan.core.config.ConfigException;
import dev.titan.core.config.ListenerConfig;
import dev.titan.core.config.TitanConfig;
import dev.titan.core.endpoint.AddressSource;
import dev.titan.core.route.RuleRouter;
import dev.titan.core.admin.AdminEndpoints;
import dev.titan.core.metrics.TitanMetrics;
import dev.titan.core.net.TcpConnector;
import dev.titan.core.net.Transport;
import dev.titan.core.time.Clock;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Titan process's data plane: clusters, listeners, the metrics and admin endpoints, built from
 * a {@link TitanConfig} and changed at run time by {@link #reload} without dropping established
 * connections. Listener protocols come from registered {@link ListenerFactory}s.
 */
public final class Engine implements AutoCloseable, ClusterRegistry, ModuleContext {
    private static final Logger log = LoggerFactory.getLogger(Engine.class);

    private final Transport transport;
    private final Map<String, ListenerFactory> factories;
    private final Clock clock;
    private final TitanMetrics metrics = new TitanMetrics();
    private final Map<String, Cluster> clusters = new LinkedHashMap<>();
    private final Map<String, Cluster> moduleClusters = new LinkedHashMap<>(); // guarded by this
    private final Map<String, ListenerHandle> listeners = new LinkedHashMap<>();
    private volatile TitanConfig config;
    // immutable views for code on event loops, which must never take the engine's lock: reload holds
    // it while it waits for cluster control loops
    private volatile Map<String, Cluster> clusterView = Map.of();
    private volatile Map<String, ListenerHandle> listenerView = Map.of();
    private final AdminEndpoints endpoints = new AdminEndpoints(this);
    private ScheduledFuture<?> labelTask;
    private volatile boolean stopping;

    public Engine(Transport transport, Map<String, ListenerFactory> factories, Clock clock) {
        this.transport = transport;
        this.factories = Map.copyOf(factories);
        this.clock = clock;
    }

    @Override
    public ClusterRegistry clusterRegistry() {
        return this;
    }

    @Override
    public TitanMetrics metrics() {
        return metrics;
    }

    @Override
    public Transport transport() {
        return transport;
    }

    public Map<String, Cluster> clusters() {
        return clusterView;
    }

    public ListenerHandle listener(String name) {
        return listenerView.get(name);
    }

    public TitanConfig config() {
        return config;
    }

    @Override
    public synchronized void register(Cluster cluster) {
        moduleClusters.put(cluster.name(), cluster);
        metrics.bindCluster(cluster);
        publishViews();
    }

    @Override
    public synchronized void unregister(Cluster cluster) {
        if (moduleClusters.remove(cluster.name(), cluster)) {
            metrics.unbindCluster(cluster.name());
            publishViews();
        }
    }

    private void publishViews() {
        Map<String, Cluster> all = new LinkedHashMap<>(clusters);
        moduleClusters.forEach(all::putIfAbsent);
        clusterView = Collections.unmodifiableMap(all);
        listenerView = Collections.unmodifiableMap(new LinkedHashMap<>(listeners));
    }

    public InetSocketAddress metricsAddress() {
        return endpoints.metricsAddress();
    }

    public InetSocketAddress adminAddress() {
        return endpoints.adminAddress();
    }

    /** Starts everything {@code config} describes; on failure, what was started is stopped again. */
    public synchronized void start(TitanConfig config) {
        checkFactories(config);
        this.config = config;
        try {
            List<CompletableFuture<Void>> ready = new ArrayList<>();
            for (ClusterConfig cc : config.clusters().values()) {
                Cluster c = newCluster(cc, new AddressSource(cc.provider(), cc.defaultRemotePort()));
                clusters.put(cc.name(), c);
                ready.add(c.start());
            }
            awaitInitialProbes(ready);
            for (ListenerConfig lc : config.listeners()) {
                ListenerHandle h = newListener(lc);
                h.start();
                listeners.put(lc.name(), h);
            }
            publishViews();
            endpoints.start(config);
            labelTask = transport.group().next().scheduleAtFixedRate(this::refreshLabels, 0, 5, TimeUnit.SECONDS);
        } catch (RuntimeException e) {
            stopNow();
            throw e;
        }
    }

    private void checkFactories(TitanConfig config) {
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < config.listeners().size(); i++) {
            ListenerConfig lc = config.listeners().get(i);
            if (!factories.containsKey(lc.protocol())) {
                problems.add("listeners[" + i + "].protocol: '" + lc.protocol() + "' is not available in this build");
            }
        }
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
    }

    private Cluster newCluster(ClusterConfig cc, AddressSource source) {
        Cluster c = new Cluster(cc, new TcpConnector(transport, true, true), source, transport.group().next(), clock);
        metrics.bindCluster(c);
        return c;
    }

    private ListenerHandle newListener(ListenerConfig lc) {
        TitanMetrics.ListenerMeters m = metrics.listener(lc.name());
        return factories.get(lc.protocol()).create(lc, new RuleRouter(lc.rules(), clusters), transport, m);
    }

    private static void awaitInitialProbes(List<CompletableFuture<Void>> ready) {
        try {
            CompletableFuture.allOf(ready.toArray(new CompletableFuture[0])).get(10, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            log.warn("initial probing still running after 10 s; accepting connections meanwhile");
        } catch (Exception e) {
            throw new IllegalStateException("initial probing failed", e);
        }
    }

    /** Every listener by name, as the status view shows them. */
    public Map<String, ListenerHandle> listeners() {
        return listenerView;
    }

    /** True once a stop began (health answers 503). */
    public boolean stopping() {
        return stopping;
    }

    private void refreshLabels() {
        int limit = config().metrics().endpointLabelLimit();
        for (Cluster c : clusters().values()) {
            c.labelledEndpoints(limit).thenAccept((List<Endpoint> l) -> metrics.refreshEndpointLabels(c, l));
        }
    }

    /**
     * Applies {@code next}: clusters are reconfigured in place (scores kept), listeners on the same
     * address are updated in place (their socket stays bound), new ones are bound, removed ones stop
     * accepting and drain. Established connections are never closed by a reload. If anything is
     * refused (an endpoint list, a port that cannot be bound), nothing changes.
     */
    public synchronized void reload(TitanConfig next) {
        checkFactories(next);
        // 1. validate every endpoint source before touching anything
        // (each list is loaded once here and handed on, so a reload resolves names and reads files once)
        Map<String, AddressSource> sources = new HashMap<>();
        for (ClusterConfig cc : next.clusters().values()) {
            AddressSource probe = new AddressSource(cc.provider(), cc.defaultRemotePort());
            sources.put(cc.name(), new AddressSource(cc.provider(), cc.defaultRemotePort(), probe.load()));
        }
        // 2. new clusters and newly bound listeners; undone on failure
        Map<String, Cluster> added = new LinkedHashMap<>();
        Map<String, ListenerHandle> bound = new LinkedHashMap<>();
        try {
            for (ClusterConfig cc : next.clusters().values()) {
                if (!clusters.containsKey(cc.name())) {
                    Cluster c = newCluster(cc, sources.get(cc.name()));
                    c.start();
                    added.put(cc.name(), c);
                }
            }
            Map<String, Cluster> view = new HashMap<>(clusters);
            view.putAll(added);
            for (ListenerConfig lc : next.listeners()) {
                ListenerHandle old = listeners.get(lc.name());
                if (old != null && old.canUpdateInPlace(lc)) {
                    continue;
                }
                if (old != null && old.sameAddress(lc)) {
                    continue; // same address, different socket options: re-bound below after the old one closes
                }
                TitanMetrics.ListenerMeters m = metrics.listener(lc.name());
                ListenerHandle h = factories.get(lc.protocol()).create(lc, new RuleRouter(lc.rules(), view), transport, m);
                h.start();
                bound.put(lc.name(), h);
            }
        } catch (RuntimeException e) {
            bound.values().forEach(ListenerHandle::stopAccepting);
            added.values().forEach(Cluster::close);
            added.keySet().forEach(metrics::unbindCluster);
            throw e;
        }
        // 3. commit
        clusters.putAll(added);
        for (ClusterConfig cc : next.clusters().values()) {
            if (!added.containsKey(cc.name())) {
                clusters.get(cc.name()).reconfigure(cc, sources.get(cc.name())).join();
            }
        }
        Map<String, ListenerHandle> nextListeners = new LinkedHashMap<>();
        for (ListenerConfig lc : next.listeners()) {
            ListenerHandle old = listeners.remove(lc.name());
            ListenerHandle fresh = bound.get(lc.name());
            if (fresh != null) {
                if (old != null) {
                    retire(old);
                }
                nextListeners.put(lc.name(), fresh);
            } else if (old != null && old.canUpdateInPlace(lc)) {
                old.update(lc, new RuleRouter(lc.rules(), clusters));
                nextListeners.put(lc.name(), old);
            } else {
                // same address, new socket options: the old socket must close before the new bind
                if (old != null) {
                    retire(old);
                }
                TitanMetrics.ListenerMeters m = metrics.listener(lc.name());
                ListenerHandle h = factories.get(lc.protocol()).create(lc, new RuleRouter(lc.rules(), clusters), transport, m);
                h.start();
                nextListeners.put(lc.name(), h);
            }
        }
        listeners.values().forEach(this::retire); // removed listeners
        listeners.clear();
        listeners.putAll(nextListeners);
        for (String name : new ArrayList<>(clusters.keySet())) {
            if (!next.clusters().containsKey(name)) {
                Cluster c = clusters.remove(name);
                c.close();
                metrics.unbindCluster(name);
            }
        }
        publishViews();
        endpoints.restartIfChanged(config, next);
        this.config = next;
        log.info("configuration reloaded: {} listeners, {} clusters", listeners.size(), clusters.size());
    }

    private void retire(ListenerHandle h) {
        h.stopAccepting();
        h.drain(config.drainTimeout());
    }


    /**
     * Graceful stop: stop accepting everywhere, wait up to {@code drain} for connections to end,
     * close the rest, then release clusters and endpoints.
     */
    public void stop(Duration drain) {
        List<ListenerHandle> ls;
        synchronized (this) {
            if (stopping) {
                return;
            }
            stopping = true;
            ls = new ArrayList<>(listenerView.values());
        }
        ls.forEach(ListenerHandle::stopAccepting);
        long active = ls.stream().mapToInt(ListenerHandle::activeConnections).sum();
        if (active > 0) {
            log.info("stopping: draining {} connections (up to {} s)", active, drain.toSeconds());
        }
        CompletableFuture.allOf(ls.stream().map(h -> h.drain(drain)).toArray(CompletableFuture[]::new)).join();
        stopNow();
    }

    private synchronized void stopNow() {
        stopping = true;
        if (labelTask != null) {
            labelTask.cancel(false);
        }
        listeners.values().forEach(ListenerHandle::stopAccepting);
        listeners.clear();
        clusters.values().forEach(Cluster::close);
        clusters.clear();
        publishViews();
        endpoints.close();
    }

    @Override
    public void close() {
        stop(Duration.ZERO);
    }
}
