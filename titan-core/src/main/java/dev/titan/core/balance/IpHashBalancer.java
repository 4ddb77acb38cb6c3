package dev.titan.core.balance;

import dev.titan.core.cluster.Endpoint;
import java.util.Comparator;
import java.util.List;

/**
 * nginx-style ip_hash: the client address's hash modulo the candidate count, over candidates in a
 * fixed order, so a client keeps its endpoint while the set is unchanged. An excluded pick moves to
 * the next candidate. Use consistent_hash where membership changes often.
 */
final class IpHashBalancer implements Balancer {
    private volatile List<Endpoint> cachedFor;
    private volatile List<Endpoint> sorted;

    @Override
    public Endpoint pick(List<Endpoint> candidates, PickContext ctx) {
        int n = candidates.size();
        if (n == 0) {
            return null;
        }
        List<Endpoint> order = sorted;
        if (cachedFor != candidates) {
            order = candidates.stream().sorted(Comparator.comparing(Endpoint::id)).toList();
            sorted = order;
            cachedFor = candidates;
        }
        int start = (int) Long.remainderUnsigned(ctx.hashKey(), n);
        for (int i = 0; i < n; i++) {
            Endpoint e = order.get((start + i) % n);
            if (ctx.allowed(e)) {
                return e;
            }
        }
        return null;
    }
}
