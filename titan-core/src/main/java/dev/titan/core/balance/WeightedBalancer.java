package dev.titan.core.balance;

import dev.titan.core.cluster.Endpoint;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Smooth weighted round robin (nginx's): over any window of sum(weights) picks each candidate gets
 * exactly its weight, interleaved rather than in bursts.
 */
final class WeightedBalancer implements Balancer {
    private List<Endpoint> cachedFor;
    private final Map<Endpoint, long[]> current = new IdentityHashMap<>();

    @Override
    public synchronized Endpoint pick(List<Endpoint> candidates, PickContext ctx) {
        if (candidates.isEmpty()) {
            return null;
        }
        if (cachedFor != candidates) {
            current.keySet().retainAll(candidates);
            cachedFor = candidates;
        }
        long total = 0;
        Endpoint best = null;
        long[] bestState = null;
        for (Endpoint e : candidates) {
            if (!ctx.allowed(e)) {
                continue;
            }
            long[] state = current.computeIfAbsent(e, k -> new long[1]);
            int w = Math.max(1, e.weight());
            state[0] += w;
            total += w;
            if (best == null || state[0] > bestState[0]) {
                best = e;
                bestState = state;
            }
        }
        if (best != null) {
            bestState[0] -= total;
        }
        return best;
    }
}
