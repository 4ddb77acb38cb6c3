package dev.titan.core.cluster;

import dev.titan.core.config.ClusterConfig;
import dev.titan.core.time.Clock;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Passive health (outlier detection): the result of every real connection feeds its endpoint's
 * score as a probe's does, and {@code consecutive_failures} failures in a row eject it for the
 * outlier's base time, doubling per ejection in a row up to its maximum. A connection the endpoint
 * answered ends the streak, and an endpoint back from ejection that answers starts the next
 * ejection from the base time again. On the cluster's control loop.
 */
final class Outliers {
    private static final Logger log = LoggerFactory.getLogger(Outliers.class);

    private final String cluster;
    private final Supplier<ClusterConfig.Outlier> config;
    private final Clock clock;
    private final ClusterStats stats;
    private final Runnable ejected;

    /** {@code ejected} runs after an ejection (the routable set and the active set change). */
    Outliers(String cluster, Supplier<ClusterConfig.Outlier> config, Clock clock, ClusterStats stats, Runnable ejected) {
        this.cluster = cluster;
        this.config = config;
        this.clock = clock;
        this.stats = stats;
        this.ejected = ejected;
    }

    /** A connect to {@code e} succeeded (after {@code latencyNanos}) or failed. */
    void result(Endpoint e, boolean success, long latencyNanos) {
        if (success) {
            // a connect that succeeds does not end a failure streak by itself: the connection may
            // still be reset before it answers (see answered)
            e.scoreState().recordSuccess(latencyNanos);
        } else {
            e.scoreState().recordFailure();
            e.passiveFailures(e.passiveFailures() + 1);
            ClusterConfig.Outlier o = config.get();
            long now = clock.nanos();
            if (e.passiveFailures() >= o.consecutiveFailures() && !e.isEjected(now)) {
                long base = o.baseEjectionTime().toNanos();
                long time = Math.min(o.maxEjectionTime().toNanos(), base << Math.min(20, e.ejections()));
                e.eject(now + time);
                e.passiveFailures(0);
                stats.ejected();
                log.warn("cluster {}: {} ejected for {} ms after failed connections", cluster, e, time / 1_000_000);
                ejected.run();
            }
        }
        e.refreshScore();
    }

    /** Whether {@link #answered} has anything to end for {@code e} (read off the control loop: a hint). */
    static boolean streakToEnd(Endpoint e) {
        return e.passiveFailures() != 0 || e.ejections() != 0;
    }

    /** A connection to {@code e} ended well after {@code e} answered: its failure streak ends. */
    void answered(Endpoint e) {
        e.passiveFailures(0);
        if (!e.isEjected(clock.nanos())) {
            e.clearEjection(); // the next ejection starts from base_ejection_time again
        }
    }
}
