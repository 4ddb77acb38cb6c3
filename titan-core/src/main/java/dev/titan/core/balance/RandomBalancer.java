package dev.titan.core.balance;

import dev.titan.core.cluster.Endpoint;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/** A uniformly random candidate. */
final class RandomBalancer implements Balancer {
    @Override
    public Endpoint pick(List<Endpoint> candidates, PickContext ctx) {
        int n = candidates.size();
        if (n == 0) {
            return null;
        }
        int start = ThreadLocalRandom.current().nextInt(n);
        for (int i = 0; i < n; i++) {
            Endpoint e = candidates.get((start + i) % n);
            if (ctx.allowed(e)) {
                return e;
            }
        }
        return null;
    }
}
