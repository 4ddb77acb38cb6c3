package dev.titan.core.metrics;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.cluster.ClusterStats;
import dev.titan.core.cluster.EndpointStatus;
import dev.titan.core.cluster.Endpoint;
import dev.titan.core.pool.EndpointPool;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.ToDoubleFunction;

/**
 * Titan's Prometheus metrics: seed 001's families under the {@code titan_} prefix (the mapping is in
 * the README), labelled by listener, cluster and endpoint. Endpoint labels are bounded: only the
 * active set and the best others up to {@code endpoint_label_limit} have series, refreshed by
 * {@link #refreshEndpointLabels}, so a /16 of candidates never becomes 65,536 series.
 */
public final class TitanMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final long startNanos = System.nanoTime();
    private final Map<String, List<Meter>> clusterMeters = new HashMap<>();
    private final Map<String, Map<Endpoint, List<Meter>>> endpointMeters = new HashMap<>();
    private final Map<String, ListenerMeters> listeners = new java.util.concurrent.ConcurrentHashMap<>();

    public TitanMetrics() {
        Gauge.builder("titan.uptime.seconds", this, m -> (System.nanoTime() - m.startNanos) / 1e9)
                .description("Seconds since this Titan process started")
                .register(registry);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    public String scrape() {
        return registry.scrape();
    }

    /** Meters of one listener (created once per listener name and kept across reloads). */
    public ListenerMeters listener(String name) {
        return listeners.computeIfAbsent(name, ListenerMeters::new);
    }

    /** The per-listener meters: connections, durations, bytes and errors. */
    public final class ListenerMeters {
        public final Counter newConnections;
        public final AtomicInteger active = new AtomicInteger();
        public final Timer duration;
        public final Counter bytesUpstream;
        public final Counter bytesDownstream;
        private final String name;
        private final Map<String, Counter> errors = new java.util.concurrent.ConcurrentHashMap<>();

        ListenerMeters(String name) {
            this.name = name;
            Tags t = Tags.of("listener", name);
            newConnections = Counter.builder("titan.new.connections").description("Connections accepted").tags(t).register(registry);
            Gauge.builder("titan.active.connections", active, AtomicInteger::get).description("Connections open now").tags(t).register(registry);
            duration = Timer.builder("titan.connection.duration").description("Lifetime of relayed connections").tags(t)
                    .publishPercentileHistogram(false).register(registry);
            bytesUpstream = Counter.builder("titan.bytes.transferred").description("Bytes relayed").tags(t.and("direction", "upstream"))
                    .register(registry);
            bytesDownstream = Counter.builder("titan.bytes.transferred").description("Bytes relayed").tags(t.and("direction", "downstream"))
                    .register(registry);
        }

        /** Counts an error of {@code kind}: connect, no_endpoint, limit, accept. */
        public void error(String kind) {
            errors.computeIfAbsent(kind, k -> Counter.builder("titan.errors").description("Errors by listener and kind")
                    .tags("listener", name, "kind", k).register(registry)).increment();
        }

        public void recordDuration(long nanos) {
            duration.record(nanos, TimeUnit.NANOSECONDS);
        }
    }

    /** Registers the cluster-wide meters of {@code cluster} (replacing those of a previous instance). */
    public synchronized void bindCluster(Cluster cluster) {
        unbindCluster(cluster.name());
        String c = cluster.name();
        ClusterStats s = cluster.stats();
        List<Meter> m = new ArrayList<>();
        Tags t = Tags.of("cluster", c);
        m.add(FunctionCounter.builder("titan.health.checks", s, ClusterStats::probesOk).tags(t.and("result", "success"))
                .description("Active probes").register(registry));
        m.add(FunctionCounter.builder("titan.health.checks", s, ClusterStats::probesFailed).tags(t.and("result", "failure"))
                .description("Active probes").register(registry));
        Timer probe = Timer.builder("titan.server.probe.duration").description("Duration of successful probes").tags(t)
                .serviceLevelObjectives(Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(25), Duration.ofMillis(100),
                        Duration.ofMillis(250), Duration.ofMillis(1000))
                .register(registry);
        m.add(probe);
        s.probeListener((ok, nanos) -> {
            if (ok) {
                probe.record(nanos, TimeUnit.NANOSECONDS);
            }
        });
        m.add(FunctionCounter.builder("titan.pool.hits", s, ClusterStats::poolHits).tags(t)
                .description("Connections taken from a pre-connected pool").register(registry));
        m.add(FunctionCounter.builder("titan.pool.misses", s, ClusterStats::poolMisses).tags(t)
                .description("Connections dialled because the pool had none ready").register(registry));
        m.add(FunctionCounter.builder("titan.pool.scale.up", cluster, cl -> sumPools(cl, EndpointPool::scaleUps)).tags(t)
                .description("Dynamic pool target increases").register(registry));
        m.add(FunctionCounter.builder("titan.pool.scale.down", cluster, cl -> sumPools(cl, EndpointPool::scaleDowns)).tags(t)
                .description("Dynamic pool target decreases").register(registry));
        m.add(gauge("titan.pool.total.connections", cluster, cl -> sumPools(cl, p -> p.idleCount() + p.inUse()), t,
                "Pooled connections, idle and in use"));
        m.add(gauge("titan.pool.available.connections", cluster, cl -> sumPools(cl, EndpointPool::idleCount), t, "Idle pooled connections"));
        m.add(gauge("titan.pool.active.connections", cluster, cl -> sumPools(cl, EndpointPool::inUse), t,
                "Connections in use to pooled endpoints"));
        m.add(gauge("titan.pool.utilization.percent", cluster, cl -> {
            double idle = sumPools(cl, EndpointPool::idleCount);
            double used = sumPools(cl, EndpointPool::inUse);
            return idle + used == 0 ? 0 : 100 * used / (idle + used);
        }, t, "In-use share of pooled connections"));
        m.add(gauge("titan.pool.peak.concurrency", cluster, cl -> sumPools(cl, EndpointPool::recentPeak), t,
                "Recent peak of concurrent connections, the dynamic pool's sizing input"));
        m.add(gauge("titan.cluster.addresses", cluster, cl -> (double) cl.addressCount(), t, "Addresses in the endpoint source"));
        m.add(gauge("titan.cluster.active.set.size", cluster, cl -> cl.active().size(), t, "Endpoints in the active set"));
        m.add(FunctionCounter.builder("titan.selector.switches", s, ClusterStats::switches).tags(t)
                .description("Active set changes").register(registry));
        m.add(FunctionCounter.builder("titan.endpoint.ejections", s, ClusterStats::ejections).tags(t)
                .description("Endpoints ejected after failed connections").register(registry));
        clusterMeters.put(c, m);
        endpointMeters.put(c, new HashMap<>());
    }

    public synchronized void unbindCluster(String name) {
        List<Meter> old = clusterMeters.remove(name);
        if (old != null) {
            old.forEach(registry::remove);
        }
        Map<Endpoint, List<Meter>> eps = endpointMeters.remove(name);
        if (eps != null) {
            eps.values().forEach(l -> l.forEach(registry::remove));
        }
    }

    /** Gives series to exactly {@code labelled} endpoints of {@code cluster}, dropping the others'. */
    public synchronized void refreshEndpointLabels(Cluster cluster, List<Endpoint> labelled) {
        Map<Endpoint, List<Meter>> current = endpointMeters.get(cluster.name());
        if (current == null) {
            return;
        }
        Set<Endpoint> want = Set.copyOf(labelled);
        current.entrySet().removeIf(e -> {
            if (!want.contains(e.getKey())) {
                e.getValue().forEach(registry::remove);
                return true;
            }
            return false;
        });
        for (Endpoint e : labelled) {
            current.computeIfAbsent(e, ep -> {
                Tags t = Tags.of("cluster", cluster.name(), "endpoint", ep.id());
                List<Meter> m = new ArrayList<>();
                m.add(gauge("titan.server.score", ep, Endpoint::score, t, "Seed 001 score of the endpoint"));
                m.add(gauge("titan.server.consecutive.failures", ep, Endpoint::consecutiveFailures, t, "Consecutive failed checks"));
                m.add(FunctionCounter.builder("titan.server.probe.success", ep, Endpoint::probeSuccesses).tags(t)
                        .description("Successful probes of the endpoint").register(registry));
                m.add(gauge("titan.lb.backend.connections", ep, Endpoint::activeConnections, t, "Connections open to the endpoint"));
                m.add(FunctionCounter.builder("titan.lb.requests", ep, Endpoint::picks).tags(t)
                        .description("Times the balancer chose the endpoint").register(registry));
                m.add(gauge("titan.pool.connections", cluster, cl -> {
                    EndpointPool p = cl.pool(ep);
                    return p == null ? 0 : p.idleCount();
                }, t, "Idle pre-connected connections to the endpoint"));
                return m;
            });
        }
    }

    private static double sumPools(Cluster c, ToDoubleFunction<EndpointPool> f) {
        double sum = 0;
        for (EndpointPool p : c.pools().values()) {
            sum += f.applyAsDouble(p);
        }
        return sum;
    }

    private <T> Meter gauge(String name, T obj, ToDoubleFunction<T> f, Tags tags, String description) {
        return Gauge.builder(name, obj, f).tags(tags).description(description).strongReference(true).register(registry);
    }
}
