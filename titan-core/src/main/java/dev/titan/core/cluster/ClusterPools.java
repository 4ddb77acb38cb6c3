package dev.titan.core.cluster;

import dev.titan.core.config.ClusterConfig;
import dev.titan.core.net.TcpConnector;
import dev.titan.core.pool.EndpointPool;
import io.netty.channel.EventLoop;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pre-connected pools of a cluster's active endpoints: one per active address while pooling is
 * on, closed when its endpoint leaves the set (whose established connections then end after
 * {@code drain_timeout}). Peers have none: a tunnel stream costs no handshake to save.
 */
final class ClusterPools {
    private static final Logger log = LoggerFactory.getLogger(ClusterPools.class);

    private final Cluster cluster;
    private final TcpConnector dialer;
    private final Map<Endpoint, EndpointPool> pools = new HashMap<>(); // control loop only
    private volatile Map<Endpoint, EndpointPool> view = Map.of();

    ClusterPools(Cluster cluster, TcpConnector dialer) {
        this.cluster = cluster;
        this.dialer = dialer;
    }

    EndpointPool of(Endpoint e) {
        return view.get(e);
    }

    Map<Endpoint, EndpointPool> view() {
        return view;
    }

    /** A pooled connection to {@code e} on {@code loop}, counting the hit or miss; null if none is ready. */
    EndpointPool.Lease acquire(Endpoint e, EventLoop loop) {
        EndpointPool pool = view.get(e);
        if (pool == null) {
            return null;
        }
        EndpointPool.Lease lease = pool.acquire(loop);
        if (lease != null) {
            cluster.stats().poolHit();
        } else {
            cluster.stats().poolMiss();
        }
        return lease;
    }

    void reconfigure(ClusterConfig.Pools next) {
        pools.values().forEach(p -> p.reconfigure(next));
    }

    void maintain() {
        pools.values().forEach(EndpointPool::maintain);
    }

    void sync(List<Endpoint> before, List<Endpoint> after) {
        Set<Endpoint> now = Set.copyOf(after);
        for (Endpoint left : before) {
            if (!now.contains(left)) {
                EndpointPool p = pools.remove(left);
                if (p != null) {
                    p.close();
                }
                scheduleDrain(left);
            }
        }
        ClusterConfig.Pools config = cluster.config().pools();
        if (config.enabled() && dialer != null) {
            for (Endpoint e : after) {
                if (e.address() != null) {
                    pools.computeIfAbsent(e, k -> {
                        EndpointPool p = new EndpointPool(k.address(), dialer, cluster.control.parent(), config, cluster.clock);
                        p.refill();
                        return p;
                    });
                }
            }
        }
        view = Map.copyOf(pools);
    }

    /** Established connections to an endpoint that left the active set end within {@code drain_timeout}. */
    private void scheduleDrain(Endpoint e) {
        long drain = cluster.config().pools().drainTimeout().toNanos();
        if (drain == 0) {
            return;
        }
        cluster.control.schedule(() -> {
            if (!cluster.isActive(e)) {
                int n = e.closeLive();
                if (n > 0) {
                    log.info("cluster {}: closed {} connections to {} after drain_timeout", cluster.name(), n, e);
                }
            }
        }, drain, TimeUnit.NANOSECONDS);
    }

    void close() {
        pools.values().forEach(EndpointPool::close);
        pools.clear();
        view = Map.of();
    }
}
