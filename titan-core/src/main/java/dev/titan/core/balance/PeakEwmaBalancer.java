package dev.titan.core.balance;

import dev.titan.core.cluster.Endpoint;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Power of two choices over peak-EWMA cost (Finagle's "p2c + peak EWMA"): sample two candidates and
 * take the one with the lower {@code peak-EWMA connect latency × (active connections + 1)}. Slow or
 * overloaded endpoints lose traffic within a few connections, without a global scan.
 */
final class PeakEwmaBalancer implements Balancer {
    @Override
    public Endpoint pick(List<Endpoint> candidates, PickContext ctx) {
        int n = candidates.size();
        if (n == 0) {
            return null;
        }
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        Endpoint a = null;
        Endpoint b = null;
        for (int tries = 0; tries < 4 && (a == null || b == null); tries++) {
            Endpoint e = candidates.get(rnd.nextInt(n));
            if (!ctx.allowed(e)) {
                continue;
            }
            if (a == null) {
                a = e;
            } else if (e != a) {
                b = e;
            }
        }
        if (a == null) {
            for (Endpoint e : candidates) {
                if (ctx.allowed(e)) {
                    return e;
                }
            }
            return null;
        }
        if (b == null) {
            return a;
        }
        return cost(a, ctx.nowNanos()) <= cost(b, ctx.nowNanos()) ? a : b;
    }

    static double cost(Endpoint e, long now) {
        double latency = e.peakEwmaNanos(now);
        // an endpoint without samples is cheap so it gets tried, but still ranked by load
        return (latency == 0 ? 1 : latency) * (e.activeConnections() + 1);
    }
}
