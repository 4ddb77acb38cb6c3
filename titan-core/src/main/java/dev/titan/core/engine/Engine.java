package dev.titan.core.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.titan.core.cluster.Cluster;
import dev.titan.core.cluster.ClusterStats;
import dev.titan.core.cluster.EndpointStatus;
import dev.titan.core.cluster.Endpoint;
import dev.titan.core.config.ClusterConfig;
import dev.titan.core.config.ConfigException;
import dev.titan.core.config.HostPort;
import dev.titan.core.config.ListenerConfig;
import dev.titan.core.config.TitanConfig;
import dev.titan.core.endpoint.AddressSource;
import dev.titan.core.route.RuleRouter;
import dev.titan.core.http.HttpService;
import dev.titan.core.metrics.TitanMetrics;
import dev.titan.core.net.TcpConnector;
import dev.titan.core.net.Transport;
import dev.titan.core.time.Clock;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
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
public final class Engine implements AutoCloseable, ClusterRegistry {
    private static final Logger log = LoggerFactory.getLogger(Engine.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Transport transport;
    private final Map<String, ListenerFactory> factories;
    private final Clock clock;
    private final TitanMetrics metrics = new TitanMetrics();
    private final Map<String, Cluster> clusters = new LinkedHashMap<>();
    private final Map<String, Cluster> moduleClusters = new LinkedHashMap<>(); // guarded by this
    private final Map<String, ListenerHandle> listeners = new LinkedHashMap<>();
    private final Map<String, TitanMetrics.ListenerMeters> listenerMeters = new HashMap<>();
    private volatile TitanConfig config;
    // immutable views for code on event loops, which must never take the engine's lock: reload holds
    // it while it waits for cluster control loops
    private volatile Map<String, Cluster> clusterView = Map.of();
    private volatile Map<String, ListenerHandle> listenerView = Map.of();
    private HttpService metricsHttp;
    private HttpService adminHttp;
    private ScheduledFuture<?> labelTask;
    private volatile boolean stopping;

    public Engine(Transport transport, Map<String, ListenerFactory> factories, Clock clock) {
        this.transport = transport;
        this.factories = Map.copyOf(factories);
        this.clock = clock;
    }

    public TitanMetrics metrics() {
        return metrics;
    }

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
        return metricsHttp == null ? null : metricsHttp.address();
    }

    public InetSocketAddress adminAddress() {
        return adminHttp == null ? null : adminHttp.address();
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
            startHttp(config);
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
        TitanMetrics.ListenerMeters m = listenerMeters.computeIfAbsent(lc.name(), metrics::listener);
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

    private void startHttp(TitanConfig c) {
        if (c.metrics().enabled()) {
            metricsHttp = new HttpService("metrics", null)
                    .publicRoute("GET", c.metrics().path(), r -> CompletableFuture.completedFuture(
                            new HttpService.Response(200, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape())))
                    .publicRoute("GET", "/healthz", r -> CompletableFuture.completedFuture(health()));
            metricsHttp.start(transport, c.metrics().listenAddr());
        }
        if (c.admin().enabled()) {
            String token = c.admin().token() != null ? c.admin().token() : generatedToken(c.admin().tokenFile());
            adminHttp = new HttpService("admin API", token)
                    .publicRoute("GET", "/healthz", r -> CompletableFuture.completedFuture(health()))
                    .route("GET", "/api/v1/status", r -> status());
            adminHttp.start(transport, c.admin().listenAddr());
        }
    }

    private HttpService.Response health() {
        return stopping ? HttpService.Response.text(503, "stopping\n") : HttpService.Response.text(200, "ok\n");
    }

    /** Creates a random admin token and stores it, readable by the owner only, where {@code titan status} looks. */
    static String generatedToken(String file) {
        byte[] raw = new byte[32];
        new SecureRandom().nextBytes(raw);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        Path p = Path.of(file);
        try {
            Files.createDirectories(p.toAbsolutePath().getParent());
            Files.deleteIfExists(p);
            try {
                Files.createFile(p, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (UnsupportedOperationException e) {
                Files.createFile(p);
            }
            Files.writeString(p, token + "\n");
            log.info("admin API token generated and written to {} (set admin.token to choose one)", p);
        } catch (IOException e) {
            throw new IllegalStateException("admin.token_file: cannot write " + p + ": " + e.getMessage(), e);
        }
        return token;
    }

    /** The status view: every cluster's endpoints with their score breakdown, and every listener. */
    public CompletableFuture<HttpService.Response> status() {
        Map<String, Cluster> cs = clusters();
        Map<String, CompletableFuture<List<EndpointStatus>>> parts = new LinkedHashMap<>();
        cs.forEach((n, c) -> parts.put(n, c.status()));
        return CompletableFuture.allOf(parts.values().toArray(new CompletableFuture[0])).thenApply(v -> {
            ObjectNode root = JSON.createObjectNode();
            ArrayNode ls = root.putArray("listeners");
            listenerView.forEach((n, h) -> {
                ObjectNode l = ls.addObject();
                l.put("name", n);
                l.put("protocol", h.config().protocol());
                l.put("address", HostPort.format(h.boundAddress()));
                l.put("cluster", h.config().clusterSummary());
                l.put("active_connections", h.activeConnections());
            });
            ArrayNode arr = root.putArray("clusters");
            parts.forEach((n, f) -> {
                Cluster c = cs.get(n);
                ObjectNode co = arr.addObject();
                co.put("name", n);
                co.put("addresses", c.addressCount());
                co.put("balancer", c.config().balancer().algorithm());
                ArrayNode active = co.putArray("active_set");
                c.active().forEach(e -> active.add(e.id()));
                ArrayNode eps = co.putArray("endpoints");
                for (EndpointStatus s : f.join()) {
                    ObjectNode e = eps.addObject();
                    e.put("endpoint", s.endpoint());
                    e.put("state", s.state());
                    e.put("score", round(s.score().score()));
                    e.put("latency_score", round(s.score().latencyScore()));
                    e.put("jitter_score", round(s.score().jitterScore()));
                    e.put("success_score", round(s.score().successScore()));
                    e.put("penalty", round(s.score().penalty()));
                    e.put("bonus", round(s.score().bonus()));
                    e.put("latency_ms", round(s.score().latencyMs()));
                    e.put("jitter_ms", round(s.score().jitterMs()));
                    e.put("success_rate", round(s.score().successRate()));
                    e.put("consecutive_failures", s.score().consecutiveFailures());
                    e.put("checks", s.score().checks());
                    e.put("active_connections", s.activeConnections());
                    e.put("total_connections", s.totalConnections());
                    e.put("pooled_idle", s.pooledIdle());
                    e.put("weight", s.weight());
                    if (!s.labels().isEmpty()) {
                        ObjectNode labels = e.putObject("labels");
                        s.labels().forEach(labels::put);
                    }
                }
            });
            try {
                return HttpService.Response.json(JSON.writeValueAsString(root) + "\n");
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static double round(double v) {
        return Double.isNaN(v) ? 0 : Math.round(v * 1000) / 1000.0;
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
                TitanMetrics.ListenerMeters m = listenerMeters.computeIfAbsent(lc.name(), metrics::listener);
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
                TitanMetrics.ListenerMeters m = listenerMeters.computeIfAbsent(lc.name(), metrics::listener);
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
        restartHttpIfChanged(next);
        this.config = next;
        log.info("configuration reloaded: {} listeners, {} clusters", listeners.size(), clusters.size());
    }

    private void retire(ListenerHandle h) {
        h.stopAccepting();
        h.drain(config.drainTimeout());
    }

    private void restartHttpIfChanged(TitanConfig next) {
        if (!next.metrics().equals(config.metrics()) || !next.admin().equals(config.admin())) {
            closeHttp();
            startHttp(next);
        }
    }

    private void closeHttp() {
        if (metricsHttp != null) {
            metricsHttp.close();
            metricsHttp = null;
        }
        if (adminHttp != null) {
            adminHttp.close();
            adminHttp = null;
        }
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
        closeHttp();
    }

    @Override
    public void close() {
        stop(Duration.ZERO);
    }
}
