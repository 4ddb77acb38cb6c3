package dev.titan.core.ingress;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.metrics.TitanMetrics;
import dev.titan.core.net.Connector;
import dev.titan.core.net.Relay;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The steps after an ingress, the same for every listener: the router picks a cluster for the
 * request, the cluster connects it (balancer, pools, retries, through its connector), and the one
 * {@link Relay} copies bytes, counted in the listener's meters, with the endpoint's passive health
 * reported when the relay ends (a reset before any reply counts against the endpoint; an answer
 * ends its failure streak).
 *
 * <pre>{@code
 * Forwarder f = new Forwarder(() -> router, meters, () -> Duration.ofMinutes(10));
 * Router.Route route = f.route(DestinationRequest.tcp("web", client));
 * f.forward(client, route, (ch, cause) -> ch.close());
 * }</pre>
 */
public final class Forwarder {
    private static final Logger log = LoggerFactory.getLogger(Forwarder.class);

    /** What the ingress answers its client once the cluster connected or gave up; on the client's event loop. */
    @FunctionalInterface
    public interface Reply {
        /** The routed connection could not be connected: answer or close the client. */
        void refused(Channel client, Throwable cause);

        /**
         * Connected, before the relay starts: a proxy protocol's success answer goes here, ahead of
         * anything the upstream sends. Nothing by default.
         */
        default void connected(Channel client, Cluster.Connection up) {
        }

        /** The relay has started (an owner that may {@link Relay#detach} it keeps it). Nothing by default. */
        default void relaying(Relay relay) {
        }
    }

    private final Supplier<Router> router;
    private final TitanMetrics.ListenerMeters meters;
    private final Supplier<Duration> idleTimeout;

    /** {@code router} and {@code idleTimeout} are read per connection, so a reload applies to the next one. */
    public Forwarder(Supplier<Router> router, TitanMetrics.ListenerMeters meters, Supplier<Duration> idleTimeout) {
        this.router = router;
        this.meters = meters;
        this.idleTimeout = idleTimeout;
    }

    /** Where {@code request} goes, or null when no route serves it. */
    public Router.Route route(DestinationRequest request) {
        return router.get().route(request);
    }

    /** Counts an error of the listener ({@code malformed}, {@code timeout}, ...). */
    public void error(String kind) {
        meters.error(kind);
    }

    /**
     * Connects {@code client} along {@code route} and relays it; takes over the request's first
     * bytes (released once the cluster has connected or given up). A failure is counted and passed
     * to {@code reply}, which answers or closes the client; a success is passed to it before the
     * relay starts.
     */
    public void forward(Channel client, Router.Route route, Reply reply) {
        long start = System.nanoTime();
        Cluster cluster = route.cluster();
        DestinationRequest request = route.request();
        cluster.connect(client.eventLoop(), request, route.eligible()).addListener((Future<Cluster.Connection> f) -> {
            request.release();
            if (!f.isSuccess()) {
                Throwable cause = f.cause();
                meters.error(cause instanceof Cluster.NoEndpointException ? "no_endpoint"
                        : cause instanceof Connector.Declined ? "limit" : "connect");
                log.debug("{}: not forwarded through cluster {}: {}", request, cluster.name(), cause.toString());
                reply.refused(client, cause);
                return;
            }
            Cluster.Connection up = f.getNow();
            if (!client.isActive()) {
                if (up.early() != null) {
                    up.early().release();
                }
                up.channel().close();
                return;
            }
            cluster.opened(up);
            reply.connected(client, up);
            if (up.early() != null) {
                client.writeAndFlush(up.early());
            }
            reply.relaying(Relay.start(client, up.channel(), idleTimeout.get(), new Outcome(cluster, up, start)));
        });
    }

    /** The listener's byte counts, and the endpoint's health when the relay ends. */
    private final class Outcome implements Relay.Stats {
        private final Cluster cluster;
        private final Cluster.Connection up;
        private final long start;

        Outcome(Cluster cluster, Cluster.Connection up, long start) {
            this.cluster = cluster;
            this.up = up;
            this.start = start;
        }

        @Override
        public void bytesFromA(long n) {
            meters.bytesUpstream.increment(n);
        }

        @Override
        public void bytesFromB(long n) {
            meters.bytesDownstream.increment(n);
        }

        @Override
        public void closed(Relay relay) {
            meters.recordDuration(System.nanoTime() - start);
            if (relay.bRefused()) {
                cluster.reportFailure(up.endpoint()); // a reset before any reply to a first request is a passive failure signal
            } else if (relay.bAnswered()) {
                cluster.reportSuccess(up.endpoint());
            }
        }
    }
}
