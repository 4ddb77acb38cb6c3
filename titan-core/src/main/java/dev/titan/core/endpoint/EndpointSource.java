package dev.titan.core.endpoint;

import dev.titan.core.cluster.Endpoint;
import io.netty.channel.EventLoop;

/**
 * Where a cluster's endpoints come from. An {@link AddressSource} delivers address lists from the
 * configuration (inline, IP-list file, DNS); a module's source adds and removes peers as they come
 * and go (tunnel clients as their tunnels register and end). A source calls its sink on the sink's
 * executor only.
 */
public interface EndpointSource extends AutoCloseable {
    /** Starts delivering endpoints to {@code sink}; called on the sink's executor. */
    void open(Sink sink);

    /** Stops delivering. */
    @Override
    void close();

    /** What a source feeds: a cluster. Every call on {@link #executor()}. */
    interface Sink {
        String name();

        EventLoop executor();

        /** Replaces the cluster's address list (endpoints no longer listed are forgotten). */
        void replaceAddresses(AddressList list);

        /** A peer joined. */
        void add(Endpoint peer);

        /** A peer left: no new connection goes to it. */
        void remove(Endpoint peer);
    }
}
