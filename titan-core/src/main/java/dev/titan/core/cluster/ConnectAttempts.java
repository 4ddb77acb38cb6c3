package dev.titan.core.cluster;

import dev.titan.core.balance.Hashing;
import dev.titan.core.net.Connector;
import dev.titan.core.pool.EndpointPool;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.time.Clock;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A cluster's connect with retries: the balancer picks an endpoint, a pooled connection is taken
 * or the connector dials, and a connect that fails before the endpoint took anything is tried on
 * another endpoint, up to {@code connect_attempts} in all, with the same first bytes (as HAProxy's
 * redispatch). A failure counts against its endpoint ({@link Outliers}) unless the connector says
 * it was no fault of the endpoint's ({@link Connector.NotServed}); a request the connector
 * {@linkplain Connector.Declined declined} is tried nowhere else.
 */
final class ConnectAttempts {
    private static final Logger log = LoggerFactory.getLogger(ConnectAttempts.class);

    private final Cluster cluster;
    private final Connector connector;
    private final ClusterPools pools;
    private final ClusterStats stats;
    private final EventLoop control;
    private final Clock clock;

    ConnectAttempts(Cluster cluster, Connector connector, ClusterPools pools, ClusterStats stats, EventLoop control, Clock clock) {
        this.cluster = cluster;
        this.connector = connector;
        this.pools = pools;
        this.stats = stats;
        this.control = control;
        this.clock = clock;
    }

    Future<Cluster.Connection> connect(EventLoop loop, DestinationRequest request, Predicate<Endpoint> eligible) {
        Promise<Cluster.Connection> promise = loop.newPromise();
        long hash = request.client() == null ? 0 : Hashing.hash(request.client().getAddress());
        attempt(loop, request, eligible, hash, new HashSet<>(2), cluster.config().connectAttempts(), promise, null);
        return promise;
    }

    private void attempt(EventLoop loop, DestinationRequest request, Predicate<Endpoint> eligible, long hashKey, Set<Endpoint> tried, int left,
                         Promise<Cluster.Connection> promise, Throwable last) {
        if (cluster.closed) {
            promise.tryFailure(new IllegalStateException("cluster " + cluster.name() + " is closed"));
            return;
        }
        Endpoint e = cluster.pick(hashKey, tried, eligible);
        if (e == null) {
            stats.noEndpoint();
            promise.tryFailure(last != null ? last : new Cluster.NoEndpointException(cluster.name()));
            return;
        }
        Endpoint chosen = e;
        EndpointPool.Lease lease = pools.acquire(chosen, loop);
        if (lease != null) {
            if (request.writeFirstBytes(lease.channel())) {
                lease.channel().flush();
            }
            promise.trySuccess(new Cluster.Connection(lease.channel(), chosen, lease.early()));
            return;
        }
        long start = clock.nanos();
        connector.connect(chosen, request, loop, cluster.config().pools().dialTimeout()).addListener((Future<Channel> f) -> {
            long elapsed = clock.nanos() - start;
            if (f.isSuccess()) {
                chosen.recordLatencySample(elapsed, clock.nanos());
                control.execute(() -> cluster.passive(chosen, true, elapsed));
                if (!promise.trySuccess(new Cluster.Connection(f.getNow(), chosen, null))) {
                    f.getNow().close(); // the client went away meanwhile
                }
                return;
            }
            if (f.cause() instanceof Connector.Declined) {
                promise.tryFailure(f.cause()); // no endpoint could take it
                return;
            }
            if (!(f.cause() instanceof Connector.NotServed)) {
                control.execute(() -> cluster.passive(chosen, false, 0));
            }
            tried.add(chosen);
            if (left > 1 && !promise.isDone()) {
                log.debug("cluster {}: connect to {} failed ({}), retrying on another endpoint", cluster.name(), chosen, f.cause().toString());
                stats.retried();
                attempt(loop, request, eligible, hashKey, tried, left - 1, promise, f.cause());
            } else {
                promise.tryFailure(f.cause());
            }
        });
    }
}
