package dev.titan.core.balance;

import dev.titan.core.cluster.Endpoint;
import dev.titan.core.config.ClusterConfig;
import java.util.List;

/**
 * Chooses one endpoint of a cluster's active set for a new connection. Implementations are safe
 * to call from every event loop at once; {@code candidates} is an immutable snapshot that stays
 * the same instance until the active set changes, so implementations may cache by identity.
 */
public interface Balancer {
    /** Returns one candidate not in {@code ctx.exclude()}, or null when every candidate is excluded. */
    Endpoint pick(List<Endpoint> candidates, PickContext ctx);

    static Balancer create(ClusterConfig.Balancer config) {
        return switch (config.algorithm()) {
            case "round_robin" -> new RoundRobinBalancer();
            case "random" -> new RandomBalancer();
            case "least_connections" -> new LeastConnectionsBalancer(false);
            case "least_connections_weight" -> new LeastConnectionsBalancer(true);
            case "weighted" -> new WeightedBalancer();
            case "ip_hash" -> new IpHashBalancer();
            case "consistent_hash" -> new ConsistentHashBalancer(config.virtualNodes());
            case "p2c_peak_ewma" -> new PeakEwmaBalancer();
            default -> throw new IllegalArgumentException("unknown balancer " + config.algorithm());
        };
    }
}
