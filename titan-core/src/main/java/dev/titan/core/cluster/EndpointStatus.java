package dev.titan.core.cluster;

import dev.titan.core.scoring.EndpointScore;
import java.util.Map;

/** One endpoint in the status view: its state (active, standby, down, ejected, unknown), score breakdown and load. */
public record EndpointStatus(String endpoint, String state, EndpointScore.Breakdown score, int activeConnections, long totalConnections,
                             int pooledIdle, int weight, Map<String, String> labels) {
}
