package dev.titan.core.route;

import dev.titan.core.cluster.Cluster;

/**
 * Chooses the cluster for a request an ingress made. A listener's configured {@link RouteRule}s
 * make a {@link RuleRouter}; a module may route by what it alone knows (the tunnel server routes a
 * Host to the client that published it).
 */
@FunctionalInterface
public interface Router {
    /** Where {@code request} goes, or null when nothing serves it. */
    Route route(DestinationRequest request);

    /** A routing decision: the cluster, and the request as its connector sees it (a module may name the target). */
    record Route(Cluster cluster, DestinationRequest request) {
    }
}
