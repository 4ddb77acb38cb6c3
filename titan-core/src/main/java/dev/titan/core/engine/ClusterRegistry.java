package dev.titan.core.engine;

import dev.titan.core.cluster.Cluster;

/**
 * Where a module announces the clusters it makes at run time (a tunnel client's replicas), so that
 * the status view and the metrics show them beside the configured ones. The {@link Engine} is one.
 */
public interface ClusterRegistry {
    /** Shows {@code cluster} from now on (a cluster of the same name is replaced). */
    void register(Cluster cluster);

    /** Stops showing {@code cluster}. */
    void unregister(Cluster cluster);

    /** Shows nothing: for a module running without an engine (tests, tools). */
    ClusterRegistry NONE = new ClusterRegistry() {
        @Override
        public void register(Cluster cluster) {
        }

        @Override
        public void unregister(Cluster cluster) {
        }
    };
}
