package dev.titan.overlay;

import static org.awaitility.Awaitility.await;

import dev.titan.core.engine.ClusterRegistry;
import dev.titan.core.metrics.TitanMetrics;
import dev.titan.core.net.Cidr;
import dev.titan.core.net.Transport;
import dev.titan.core.store.Store;
import dev.titan.tunnel.TunnelClientConfig;
import dev.titan.tunnel.TunnelEndpoint;
import dev.titan.tunnel.TunnelServerConfig;
import dev.titan.tunnel.TunnelSettings;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** What the overlay's tests build: a PoP on loopback with ephemeral ports, and edges that dial it and may reach loopback when asked. */
final class OverlayFixture {
    static final String EDGE_SECRET = "edge-secret-for-tests";
    static final InetSocketAddress ANY = new InetSocketAddress("127.0.0.1", 0);

    private OverlayFixture() {
    }

    static Store.User user(String id, String password, Store.Limits limits) {
        return new Store.User(id, password.getBytes(StandardCharsets.UTF_8), limits, null);
    }

    /** The PoP's edge port, for these edge ids (all with {@link #EDGE_SECRET}). */
    static TunnelServerConfig edgePort(String... ids) {
        return new TunnelServerConfig(ANY, "127.0.0.1", Arrays.stream(ids).map(id -> TunnelServerConfig.User.of(id, EDGE_SECRET, List.of())).toList(),
                TunnelSettings.DEFAULTS, Duration.ofMinutes(1), null);
    }

    /** A PoP with the ports asked for (ephemeral), the users, edge e1, and 0-RTT and the usage file as given. */
    static Pop.Config config(boolean socks, boolean http, boolean mixed, List<Store.User> users, Pop.ZeroRtt zeroRtt, Pop.UsageStore usage,
                             String... edgeIds) {
        return new Pop.Config(socks ? ANY : null, http ? ANY : null, mixed ? ANY : null, edgePort(edgeIds.length == 0 ? new String[] {"e1"} : edgeIds),
                users, List.of(), false, Duration.ofSeconds(5), Duration.ofMinutes(1), Map.of(), zeroRtt, usage, false, null);
    }

    /** Starts a PoP, closed with {@code closing}. */
    static Pop startPop(Pop.Config config, Transport transport, List<AutoCloseable> closing) {
        Pop pop = new Pop(config, transport, ClusterRegistry.NONE, new TitanMetrics());
        pop.start();
        closing.add(pop);
        return pop;
    }

    /** Starts edge {@code id} with {@code labels}, allowed to reach {@code allow}, dialling {@code pop}; returns once the PoP has its tunnel. */
    static Edge startEdge(Pop pop, String id, Map<String, String> labels, List<String> allow, Transport transport, List<AutoCloseable> closing) {
        TunnelClientConfig c = new TunnelClientConfig(List.of(TunnelEndpoint.tcp(pop.edges().address())), id,
                EDGE_SECRET.getBytes(StandardCharsets.UTF_8), 1, List.of(), labels, TunnelSettings.DEFAULTS, Duration.ofSeconds(5),
                Duration.ofMinutes(1), null);
        Edge edge = new Edge(c, EgressPolicy.allowing(allow.stream().map(Cidr::parse).toList()), transport);
        edge.start();
        closing.add(edge);
        await().atMost(Duration.ofSeconds(10)).until(() -> !pop.edges().sessions(id).isEmpty());
        return edge;
    }
}
