package dev.titan.overlay;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * How a user's connections are spread over the edges, as configured for the user: {@code auto}
 * (the edge cluster's balancer over every matching edge: fewest connections among the best
 * scored), {@code rotating} (a different edge for each new connection where more than one
 * matches), {@code timed} (one edge at a time, changed every {@code interval}), {@code manual}
 * (only edge {@code edge}, or only edges with {@code labels}). Username parameters narrow any mode
 * further, and a {@code session} parameter makes it sticky.
 */
record RoutingPolicy(Mode mode, Duration interval, String edge, Map<String, String> labels) {
    enum Mode { AUTO, ROTATING, TIMED, MANUAL }

    static final RoutingPolicy AUTO = new RoutingPolicy(Mode.AUTO, null, null, Map.of());

    RoutingPolicy {
        Objects.requireNonNull(mode, "mode");
        labels = Map.copyOf(labels);
        if (mode == Mode.TIMED && (interval == null || interval.isZero() || interval.isNegative())) {
            throw new IllegalArgumentException("timed routing needs a positive interval");
        }
        if (mode == Mode.MANUAL && edge == null && labels.isEmpty()) {
            throw new IllegalArgumentException("manual routing needs an edge or labels");
        }
    }
}
