package dev.titan.overlay;

import dev.titan.core.net.Relay;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * What each edge actually delivers: the rate of every bulk connection it carried (at least
 * {@value #MIN_BYTES} bytes toward the user over at least 200 ms), folded into a moving average per
 * edge. An edge whose average falls below a quarter of the median of all edges' averages has
 * collapsed: its connections count as failures against its score, so the balancer moves users off
 * it even while its round trips look fine (what RTT-only health checks miss).
 */
final class EdgeThroughput {
    static final long MIN_BYTES = 256 << 10;
    private static final long MIN_NANOS = 200_000_000L;
    private static final double ALPHA = 0.3;
    private static final double COLLAPSED = 0.25;

    private final Map<String, Double> bytesPerSecond = new ConcurrentHashMap<>();
    private final LongSupplier clock;

    EdgeThroughput(LongSupplier clock) {
        this.clock = clock;
    }

    /** Folds in one connection's delivery; true when the edge now counts as collapsed. */
    boolean record(String edge, long bytes, long nanos) {
        if (bytes < MIN_BYTES || nanos < MIN_NANOS) {
            return false;
        }
        double rate = bytes * 1e9 / nanos;
        bytesPerSecond.merge(edge, rate, (old, now) -> old + ALPHA * (now - old));
        return collapsed(edge);
    }

    /** Whether {@code edge}'s average is below a quarter of the median of the edges' (two edges at least). */
    boolean collapsed(String edge) {
        Double mine = bytesPerSecond.get(edge);
        if (mine == null || bytesPerSecond.size() < 2) {
            return false;
        }
        double[] all = bytesPerSecond.values().stream().mapToDouble(Double::doubleValue).sorted().toArray();
        double median = all.length % 2 == 1 ? all[all.length / 2] : (all[all.length / 2 - 1] + all[all.length / 2]) / 2;
        return mine < COLLAPSED * median;
    }

    /** The edge's average delivery in Mbit/s, or -1 when it has carried no bulk connection yet. */
    double mbit(String edge) {
        Double r = bytesPerSecond.get(edge);
        return r == null ? -1 : r * 8 / 1e6;
    }

    /** Drops the averages of edges that are gone. */
    void forgetAllBut(java.util.Set<String> edges) {
        bytesPerSecond.keySet().retainAll(edges);
    }

    /** The stats of one connection through {@code edge}: counts what it delivers, and when it ends calls {@code collapsed} if the edge has. */
    Relay.Stats connection(String edge, Runnable collapsed) {
        long start = clock.getAsLong();
        long[] down = new long[1];
        return new Relay.Stats() {
            @Override
            public void bytesFromA(long n) {
            }

            @Override
            public void bytesFromB(long n) {
                down[0] += n;
            }

            @Override
            public void closed(Relay relay) {
                if (record(edge, down[0], clock.getAsLong() - start)) {
                    collapsed.run();
                }
            }
        };
    }

    @Override
    public String toString() {
        return "EdgeThroughput" + Arrays.toString(bytesPerSecond.entrySet().toArray());
    }
}
