package dev.titan.core.net;

import dev.titan.core.cluster.Endpoint;
import dev.titan.core.route.DestinationRequest;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import java.time.Duration;

/**
 * Yields a connected channel to an endpoint a cluster chose, for a request: a TCP connection
 * ({@link TcpConnector}) or a stream inside a tunnel. Because both are channels, the relay,
 * limits, accounting and metrics are the same on every path.
 *
 * <p>The channel comes ready for a {@link Relay} (auto-read off, half-closure on, the relay's water
 * mark), with the request's first bytes already written to it: a tunnel stream sends them with its
 * open, so that they leave without waiting for the far end's answer. A connector never releases the
 * request's bytes; it sends duplicates, so a cluster can try the same request on another endpoint.
 */
public interface Connector {
    /**
     * Connects to {@code endpoint} on {@code loop}; the future fails if the endpoint cannot take the
     * request (with {@link NotServed} when that is no fault of the endpoint's, {@link Declined} when no
     * endpoint could), or after {@code timeout}.
     */
    Future<Channel> connect(Endpoint endpoint, DestinationRequest request, EventLoop loop, Duration timeout);

    /**
     * The endpoint is healthy but does not serve what the request names (a tunnel client that does
     * not publish that service): the cluster tries another endpoint without counting a failure.
     */
    class NotServed extends Exception {
        public NotServed(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * The request itself cannot be served (its user is at a limit, its target is forbidden): no
     * other endpoint is tried, and this one is not blamed.
     */
    class Declined extends Exception {
        public Declined(String message) {
            super(message, null, false, false);
        }
    }
}
