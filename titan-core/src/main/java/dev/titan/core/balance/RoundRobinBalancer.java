package dev.titan.core.balance;

import dev.titan.core.cluster.Endpoint;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** Each candidate in turn. */
final class RoundRobinBalancer implements Balancer {
    private final AtomicLong next = new AtomicLong();

    @Override
    public Endpoint pick(List<Endpoint> candidates, PickContext ctx) {
        int n = candidates.size();
        if (n == 0) {
            return null;
        }
        long start = next.getAndIncrement();
        for (int i = 0; i < n; i++) {
            Endpoint e = candidates.get((int) Math.floorMod(start + i, (long) n));
            if (ctx.allowed(e)) {
                return e;
            }
        }
        return null;
    }
}
