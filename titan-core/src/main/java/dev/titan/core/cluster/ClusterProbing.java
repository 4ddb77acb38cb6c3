package dev.titan.core.cluster;

import dev.titan.core.config.ClusterConfig;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The active probes of a cluster of addresses: the initial round over a sample of the list, then
 * rounds of {@code probe_candidate_count} (active members first, then never-probed and stalest
 * ones alternately), each result fed to the endpoint's score. Peers (tunnel clients, edges) are not
 * probed here: their tunnel's PINGs feed their scores. Runs on the cluster's control loop.
 */
final class ClusterProbing {
    private static final Logger log = LoggerFactory.getLogger(ClusterProbing.class);

    private final Cluster cluster;
    private final Prober prober;
    private boolean probing;

    ClusterProbing(Cluster cluster, Prober prober) {
        this.cluster = cluster;
        this.prober = prober;
    }

    /** Whether this cluster probes at all (probing type none, or a cluster of peers, does not). */
    boolean enabled() {
        return prober != null;
    }

    Future<?> initialProbe() {
        ClusterConfig.Initial init = cluster.config().probing().initial();
        Promise<Void> all = cluster.control.newPromise();
        if (prober == null) {
            return all.setSuccess(null);
        }
        List<InetSocketAddress> targets = sample(Math.min(cluster.addresses.size(), init.maxCandidates()));
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
    private void probeNext(List<InetSocketAddress> targets, AtomicInteger next, AtomicInteger remaining, Promise<Void> all, Duration timeout) {
        int i = next.getAndIncrement();
        if (i >= targets.size() || cluster.closed) {
            return;
        }
        probe(targets.get(i), timeout).addListener(f -> {
            if (remaining.decrementAndGet() == 0) {
                all.trySuccess(null);
            }
            probeNext(targets, next, remaining, all, timeout);
        });
    }

    void probeRound() {
        if (probing || cluster.closed || prober == null) {
            return; // the previous round is still running
        }
        List<InetSocketAddress> candidates = probeCandidates(cluster.config().probing().probeCandidateCount());
        if (candidates.isEmpty()) {
            return;
        }
        probing = true;
        AtomicInteger remaining = new AtomicInteger(candidates.size());
        for (InetSocketAddress a : candidates) {
            probe(a, cluster.config().probing().timeout()).addListener(f -> {
                if (remaining.decrementAndGet() == 0) {
                    probing = false;
                    evictUntracked();
                    if (cluster.selector.active().isEmpty()) {
                        cluster.evaluate(); // still bootstrapping: do not wait for the evaluation interval
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
        Set<InetSocketAddress> out = new LinkedHashSet<>();
        for (Endpoint e : cluster.selector.active()) {
            if (out.size() < count && e.address() != null) {
                out.add(e.address());
            }
        }
        List<Endpoint> stale = cluster.tracked.values().stream()
                .filter(e -> e.address() != null && !out.contains(e.address()))
                .sorted(Comparator.comparingLong(Endpoint::lastProbeNanos))
                .toList();
        long size = cluster.addresses.size();
        boolean big = size > cluster.tracked.size();
        int si = 0;
        int misses = 0;
        boolean unknownTurn = true;
        while (out.size() < count && (si < stale.size() || (big && misses < count * 4))) {
            if (big && unknownTurn && misses < count * 4) {
                InetSocketAddress a = cluster.addresses.get(ThreadLocalRandom.current().nextLong(size));
                if (cluster.tracked.containsKey(a) || !out.add(a)) {
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

    /** {@code n} distinct addresses of the list, at random (the whole list when it is that small). */
    List<InetSocketAddress> sample(long n) {
        long size = cluster.addresses.size();
        if (n >= size) {
            return size <= Integer.MAX_VALUE ? cluster.addresses.toList() : List.of();
        }
        Set<InetSocketAddress> out = new LinkedHashSet<>();
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        while (out.size() < n) {
            out.add(cluster.addresses.get(rnd.nextLong(size)));
        }
        return new ArrayList<>(out);
    }

    private Future<Prober.Result> probe(InetSocketAddress a, Duration timeout) {
        Promise<Prober.Result> p = prober.probe(a, cluster.config().probing(), timeout, cluster.control);
        p.addListener(f -> {
            Prober.Result r = p.getNow();
            if (r == null || cluster.closed) {
                return;
            }
            Endpoint e = cluster.tracked.get(a);
            if (e == null) {
                if (!cluster.addresses.contains(a)) {
                    return; // removed from the source meanwhile
                }
                e = new Endpoint(a, 1, cluster.config().scoring());
                cluster.tracked.put(a, e);
            }
            e.lastProbeNanos(cluster.clock.nanos());
            cluster.stats().probe(r.success(), r.latencyNanos());
            if (r.success()) {
                e.probeSucceeded();
            } else {
                log.debug("cluster {}: probe {} failed: {}", cluster.name(), e, r.error());
            }
            cluster.recordSample(e, r.success(), r.latencyNanos());
        });
        return p;
    }

    /** Keeps the number of tracked endpoints under {@code max_tracked}, dropping the least useful. */
    private void evictUntracked() {
        int max = cluster.config().provider().maxTracked();
        if (cluster.tracked.size() <= max) {
            return;
        }
        Set<Endpoint> keep = new HashSet<>(cluster.selector.active());
        List<Endpoint> victims = cluster.tracked.values().stream()
                .filter(e -> !keep.contains(e) && e.activeConnections() == 0 && e.address() != null)
                .sorted(Comparator.comparingDouble(Endpoint::score).thenComparingLong(Endpoint::lastProbeNanos))
                .limit(cluster.tracked.size() - max)
                .toList();
        victims.forEach(e -> cluster.tracked.remove(e.key()));
    }
}
