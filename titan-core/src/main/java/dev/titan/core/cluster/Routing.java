package dev.titan.core.cluster;

import dev.titan.core.balance.Balancer;
import dev.titan.core.balance.PickContext;
import java.util.Comparator;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lists a cluster's event loops pick from, recomputed on its control loop: the active set less
 * ejected endpoints; while there is none, the best scored or untested ones; and when every one of
 * those is ejected, the ejected ones after all. Ejection moves traffic to better endpoints; on its
 * own it never refuses every connection, since it rests on a guess from passive signals and a
 * refusal is certain (Envoy calls this panic routing). Probes that find an endpoint down still take
 * it out.
 */
final class Routing {
    private static final Logger log = LoggerFactory.getLogger(Routing.class);

    private final Cluster cluster;
    // read by every event loop
    private volatile List<Endpoint> routable = List.of();
    private volatile List<Endpoint> fallback = List.of();
    private boolean panic; // control loop only

    Routing(Cluster cluster) {
        this.cluster = cluster;
    }

    /** The balancer's choice among the routable endpoints, else the fallback ones; null if none is left. */
    Endpoint pick(Balancer balancer, PickContext ctx) {
        List<Endpoint> candidates = routable;
        Endpoint e = candidates.isEmpty() ? null : balancer.pick(candidates, ctx);
        if (e == null) {
            List<Endpoint> fb = fallback;
            e = fb.isEmpty() ? null : balancer.pick(fb, ctx);
        }
        return e;
    }

    /** Whether every candidate is ejected and connections go to them anyway. */
    boolean panicking() {
        return panic;
    }

    void refresh() {
        long now = cluster.clock.nanos();
        List<Endpoint> active = cluster.selector.active();
        List<Endpoint> r = active.stream().filter(e -> !e.isEjected(now)).toList();
        if (!r.equals(routable)) {
            routable = r;
        }
        if (!r.isEmpty()) {
            if (!fallback.isEmpty()) {
                fallback = List.of();
            }
            panic(false);
            return;
        }
        // nothing selected yet (or all ejected): the best scored, else untested endpoints
        List<Endpoint> best = bestScored(now, false);
        if (best.isEmpty()) {
            best = cluster.tracked.values().stream().filter(e -> !e.isEjected(now) && !e.scoreState().hasSamples()).toList();
            if (best.isEmpty() && !cluster.addresses.isEmpty() && cluster.tracked.size() < cluster.addresses.size()) {
                best = cluster.probingSample(16);
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
    }

    /**
     * Up to an active set's worth of the best-scored endpoints that are (or are not) ejected. A score
     * of 0 leaves an endpoint out only where probes measure it: without probes (a cluster of peers,
     * probing none) nothing but passive guesses says it is down.
     */
    private List<Endpoint> bestScored(long now, boolean ejected) {
        boolean probed = cluster.probes();
        return cluster.tracked.values().stream()
                .filter(e -> e.isEjected(now) == ejected && (e.score() > 0 || (ejected && !probed)))
                .sorted(Comparator.comparingDouble(Endpoint::score).reversed())
                .limit(cluster.config().selector().activeSetSize())
                .toList();
    }

    private void panic(boolean now) {
        if (now == panic) {
            return;
        }
        panic = now;
        if (now) {
            log.warn("cluster {}: every candidate endpoint is ejected; routing to them anyway", cluster.name());
        } else {
            log.info("cluster {}: an endpoint is routable again; ejected ones get no traffic", cluster.name());
        }
    }
}
