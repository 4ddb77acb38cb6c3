package dev.titan.overlay;

import dev.titan.core.net.Transport;
import dev.titan.tunnel.TunnelClient;
import dev.titan.tunnel.TunnelClientConfig;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * An exit of the overlay: holds tunnels to one or more PoPs (a tunnel client with no published
 * services, its labels in the handshake), and makes the final connection of every stream a PoP
 * opens, to the {@code host:port} it names, as its {@link EgressPolicy} allows.
 */
public final class Edge implements AutoCloseable {
    private final TunnelClient client;
    private final EgressTargets targets;

    public Edge(TunnelClientConfig tunnels, EgressPolicy egress, Transport transport) {
        this.targets = new EgressTargets(egress, transport);
        this.client = new TunnelClient(tunnels, transport, targets);
    }

    public void start() {
        client.start();
    }

    /** Completes once a tunnel is up, or after {@code max}. */
    public CompletableFuture<Void> firstTunnel(Duration max) {
        return client.firstTunnel(max);
    }

    /** Tunnels connected to PoPs now. */
    public int connectedTunnels() {
        return client.connectedTunnels();
    }

    /** Streams open now (user connections this edge carries). */
    public int activeStreams() {
        return client.activeStreams();
    }

    /** User connections this edge has carried to their target so far. */
    public long streamsServed() {
        return client.streamsServed();
    }

    /** Targets its egress policy refused so far. */
    public long refusedTargets() {
        return targets.refused.sum();
    }

    public CompletableFuture<Void> drain(Duration timeout) {
        return client.drain(timeout);
    }

    @Override
    public void close() {
        client.close();
    }
}
