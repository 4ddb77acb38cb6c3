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
        if (n == 1) {
            Endpoint only = candidates.get(0);
            return ctx.allowed(only) ? only : null;
        }
        // two distinct candidates, uniformly
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        int i = rnd.nextInt(n);
        int j = rnd.nextInt(n - 1);
        if (j >= i) {
            j++;
        }
        Endpoint a = candidates.get(i);
        Endpoint b = candidates.get(j);
        long now = ctx.nowNanos();
        if (ctx.allowed(a) && ctx.allowed(b)) {
            return cost(a, now) <= cost(b, now) ? a : b;
        }
        // a retry excluded one of them: the cheapest allowed candidate
        Endpoint best = null;
        double bestCost = Double.MAX_VALUE;
        for (Endpoint e : candidates) {
            if (ctx.allowed(e)) {
                double c = cost(e, now);
                if (c < bestCost) {
                    best = e;
                    bestCost = c;
                }
            }
        }
        return best;
    }

    static double cost(Endpoint e, long now) {
        double latency = e.peakEwmaNanos(now);
        // an endpoint without samples is cheap so it gets tried, but still ranked by load
        return (latency == 0 ? 1 : latency) * (e.activeConnections() + 1);
    }
}
