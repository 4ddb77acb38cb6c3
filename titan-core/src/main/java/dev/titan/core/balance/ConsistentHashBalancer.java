package dev.titan.core.balance;

import dev.titan.core.cluster.Endpoint;
import java.util.Arrays;
import java.util.List;

/**
 * A hash ring with {@code virtualNodes} points per endpoint (Karger et al.): a key maps to the first
 * point clockwise from its hash. When an endpoint leaves, only the keys it owned move (about 1/n
 * of them); the others keep their endpoint. An excluded owner hands over to the next point.
 */
final class ConsistentHashBalancer implements Balancer {
    private final int virtualNodes;
    private volatile Ring ring = new Ring(null, new long[0], new Endpoint[0]);

    ConsistentHashBalancer(int virtualNodes) {
        this.virtualNodes = virtualNodes;
    }

    private record Ring(List<Endpoint> source, long[] points, Endpoint[] owners) {
    }

    @Override
    public Endpoint pick(List<Endpoint> candidates, PickContext ctx) {
        if (candidates.isEmpty()) {
            return null;
        }
        Ring r = ring;
        if (r.source != candidates) {
            r = build(candidates);
            ring = r;
        }
        int n = r.points.length;
        int i = Arrays.binarySearch(r.points, ctx.hashKey());
        if (i < 0) {
            i = -i - 1;
        }
        for (int step = 0; step < n; step++) {
            Endpoint e = r.owners[(i + step) % n];
            if (ctx.allowed(e)) {
                return e;
            }
        }
        return null;
    }

    private Ring build(List<Endpoint> candidates) {
        int n = candidates.size() * virtualNodes;
        long[][] pairs = new long[n][];
        int k = 0;
        for (int c = 0; c < candidates.size(); c++) {
            String id = candidates.get(c).id();
            for (int v = 0; v < virtualNodes; v++) {
                pairs[k++] = new long[] {Hashing.hash(id + "#" + v), c};
            }
        }
        Arrays.sort(pairs, (a, b) -> Long.compare(a[0], b[0]));
        long[] points = new long[n];
        Endpoint[] owners = new Endpoint[n];
        for (int j = 0; j < n; j++) {
            points[j] = pairs[j][0];
            owners[j] = candidates.get((int) pairs[j][1]);
        }
        return new Ring(candidates, points, owners);
    }
}
