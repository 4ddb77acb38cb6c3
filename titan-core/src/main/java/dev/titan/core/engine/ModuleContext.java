package dev.titan.core.engine;

import dev.titan.core.metrics.TitanMetrics;
import dev.titan.core.net.Transport;

/** What the engine lends a module: its event loops, its metrics, and the registry of clusters shown in status and metrics. */
public interface ModuleContext {
    Transport transport();

    TitanMetrics metrics();

    ClusterRegistry clusterRegistry();
}
