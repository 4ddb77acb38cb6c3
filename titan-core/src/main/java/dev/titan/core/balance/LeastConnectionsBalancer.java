package dev.titan.core.balance;

import dev.titan.core.cluster.Endpoint;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The candidate with the fewest active connections, or (weighted) the lowest active/weight ratio.
 * The scan starts at a random offset so ties spread instead of piling onto the first candidate.
 */
final class LeastConnectionsBalancer implements Balancer {
    private final boolean weighted;

    LeastConnectionsBalancer(boolean weighted) {
        this.weighted = weighted;
    }

    @Override
    public Endpoint pick(List<Endpoint> candidates, PickContext ctx) {
        int n = candidates.size();
        if (n == 0) {
            return null;
        }
        int start = n == 1 ? 0 : ThreadLocalRandom.current().nextInt(n);
        Endpoint best = null;
        double bestLoad = Double.MAX_VALUE;
        for (int i = 0; i < n; i++) {
            Endpoint e = candidates.get((start + i) % n);
            if (!ctx.allowed(e)) {
                continue;
            }
            double load = weighted ? (double) e.activeConnections() / Math.max(1, e.weight()) : e.activeConnections();
            if (load < bestLoad) {
                best = e;
                bestLoad = load;
            }
        }
        return best;
    }
}
