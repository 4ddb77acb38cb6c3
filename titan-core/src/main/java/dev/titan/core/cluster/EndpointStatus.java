package dev.titan.core.cluster;

import dev.titan.core.pool.EndpointPool;
import dev.titan.core.scoring.EndpointScore;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/** One endpoint in the status view: its state (active, standby, down, ejected, unknown), score breakdown and load. */
public record EndpointStatus(String endpoint, String state, EndpointScore.Breakdown score, int activeConnections, long totalConnections,
                             int pooledIdle, int weight, Map<String, String> labels) {

    /**
     * The status of every endpoint in {@code tracked}, the active set first, then by score: at
     * {@code now}, below {@code minScore} an endpoint with samples is down. On the control loop.
     */
    static List<EndpointStatus> of(Collection<Endpoint> tracked, Set<Endpoint> active, long now, double minScore,
                                   Function<Endpoint, EndpointPool> pools) {
        List<EndpointStatus> out = new ArrayList<>();
        List<Endpoint> sorted = tracked.stream()
                .sorted(Comparator.comparing((Endpoint e) -> !active.contains(e)).thenComparing(Comparator.comparingDouble(Endpoint::score).reversed()))
                .toList();
        for (Endpoint e : sorted) {
            String state = e.isEjected(now) ? "ejected"
                    : active.contains(e) ? "active"
                    : !e.scoreState().hasSamples() ? "unknown"
                    : e.score() < minScore ? "down" : "standby";
            EndpointPool p = pools.apply(e);
            out.add(new EndpointStatus(e.id(), state, e.scoreState().breakdown(), e.activeConnections(), e.totalConnections(),
                    p == null ? 0 : p.idleCount(), e.weight(), e.labels()));
        }
        return out;
    }
}
