package dev.titan.core.engine;

import dev.titan.core.route.Router;
import dev.titan.core.config.ListenerConfig;
import dev.titan.core.metrics.TitanMetrics;
import dev.titan.core.net.Transport;

/** Creates listeners of one protocol; modules register theirs with the engine. */
@FunctionalInterface
public interface ListenerFactory {
    ListenerHandle create(ListenerConfig config, Router router, Transport transport, TitanMetrics.ListenerMeters meters);
}
