package dev.titan.core.route;

import dev.titan.core.cluster.Cluster;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/** A listener's routes: the first rule that matches the request names its cluster. */
public final class RuleRouter implements Router {
    private record Bound(RouteRule rule, Cluster cluster) {
    }

    private final List<Bound> rules;
    private final Cluster only; // a single rule that matches everything: no matching per connection

    /** Binds {@code rules} to the clusters they name, which must all be in {@code clusters}. */
    public RuleRouter(List<RouteRule> rules, Map<String, Cluster> clusters) {
        List<Bound> bound = new ArrayList<>(rules.size());
        for (RouteRule r : rules) {
            bound.add(new Bound(r, Objects.requireNonNull(clusters.get(r.cluster()), () -> "no cluster " + r.cluster())));
        }
        this.rules = List.copyOf(bound);
        this.only = bound.size() == 1 && bound.getFirst().rule().matchesEverything() ? bound.getFirst().cluster() : null;
    }

    @Override
    public Route route(DestinationRequest request) {
        if (only != null) {
            return new Route(only, request);
        }
        for (Bound b : rules) {
            if (b.rule().matches(request)) {
                return new Route(b.cluster(), request);
            }
        }
        return null;
    }

    /** The cluster every request goes to, or null when the routes look at the request. */
    public Cluster onlyCluster() {
        return only;
    }
}
