package dev.titan.core.route;

import dev.titan.core.cluster.Endpoint;
import java.util.function.Predicate;

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

    /**
     * A routing decision: the cluster, the request as its connector sees it (a module may name the
     * target), and which of the cluster's endpoints may take it (null: any; an overlay user's label
     * filter or sticky session narrows it). The cluster's balancer still chooses among those.
     */
    record Route(Cluster cluster, DestinationRequest request, Predicate<Endpoint> eligible) {
        public Route(Cluster cluster, DestinationRequest request) {
            this(cluster, request, null);
        }

        /** The same decision for {@code next} (the request with its first bytes, say). */
        public Route with(DestinationRequest next) {
            return new Route(cluster, next, eligible);
        }
    }
}
