package dev.titan.tunnel;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.cluster.Endpoint;
import dev.titan.core.config.ClusterConfig;
import dev.titan.core.config.HostPort;
import dev.titan.core.config.ScoringConfig;
import dev.titan.core.endpoint.AddressList;
import dev.titan.core.endpoint.EndpointSource;
import dev.titan.core.engine.ClusterRegistry;
import dev.titan.core.net.Transport;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
import dev.titan.core.time.Clock;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tunnels the server holds, as clusters: every configured client id has a cluster (named
 * {@code tunnel:<id>}) whose endpoints are that id's connected tunnels, its replicas, added as they
 * register and removed as they end or send GOAWAY. Choosing a replica, retrying on another, and
 * passing over one that refuses are the cluster's (fewest active streams, {@code connect_attempts},
 * passive ejection); its scores come from each tunnel's handshake and PING round trips and from
 * its stream opens. Also the router of the server's ingresses: a Host or TLS name goes to the
 * client that published it, or to client {@code <id>} for {@code <id>.<domain>}.
 */
final class TunnelRegistry implements Router {
    private static final Logger log = LoggerFactory.getLogger(TunnelRegistry.class);
    static final String CLUSTER_PREFIX = "tunnel:";

    private final Transport transport;
    private final ClusterRegistry clusterRegistry;
    private final TunnelConnector connector;
    /** By client id, or the one shared group. */
    private final Map<String, Client> clients = new ConcurrentHashMap<>();
    /** The one cluster every client id's tunnels join (an overlay PoP's edges), or null: a cluster per id. */
    private final String shared;
    private volatile TunnelServerConfig config;
    /** Hosts that tunnels published for their http and tls services: name -> (client id, service). */
    private volatile Map<String, Published> httpHosts = Map.of();
    private volatile Map<String, Published> tlsHosts = Map.of();

    private record Published(String clientId, String service) {
    }

    TunnelRegistry(TunnelServerConfig config, Transport transport, ClusterRegistry clusterRegistry, TunnelConnector connector) {
        this(config, transport, clusterRegistry, connector, null);
    }

    /**
     * {@code shared}: the name of one cluster that the tunnels of every client id join as endpoints
     * (labelled with their id), as an overlay PoP's edges do; null: one cluster per client id,
     * {@code tunnel:<id>}, its replicas.
     */
    TunnelRegistry(TunnelServerConfig config, Transport transport, ClusterRegistry clusterRegistry, TunnelConnector connector, String shared) {
        this.shared = shared;
        this.config = config;
        this.connector = connector;
        this.transport = transport;
        this.clusterRegistry = clusterRegistry;
        if (shared != null) {
            client(shared, 0);
        }
        config.users().forEach(u -> client(u.id(), u.maxTunnels()));
    }

    /** One client id: its cluster, and the tunnels that are its endpoints. */
    final class Client implements EndpointSource {
        final String id;
        final Cluster cluster;
        final CopyOnWriteArrayList<ServerSession> sessions = new CopyOnWriteArrayList<>();
        private final EventLoop control;
        private EndpointSource.Sink sink; // on the control loop

        Client(String id, int maxTunnels) {
            this.id = id;
            this.control = transport.group().next();
            TunnelSettings s = config.settings();
            ClusterConfig cc = shared != null ? ClusterConfig.peers(shared, SHARED_MAX_PEERS, SHARED_ATTEMPTS, s.openTimeout())
                    : ClusterConfig.peers(CLUSTER_PREFIX + id, maxTunnels, maxTunnels, s.openTimeout());
            this.cluster = new Cluster(cc, connector, this, control, Clock.SYSTEM);
        }

        @Override
        public void open(Sink s) {
            sink = s;
            s.replaceAddresses(AddressList.EMPTY);
            sessions.forEach(sess -> s.add(sess.endpoint()));
        }

        @Override
        public void close() {
            sink = null;
        }

        void add(ServerSession s, long handshakeNanos) {
            InetSocketAddress from = (InetSocketAddress) s.channel().remoteAddress();
            Map<String, String> labels = s.auth().labels() == null ? Map.of() : s.auth().labels();
            Endpoint e;
            if (shared != null) { // many ids in one cluster: each endpoint says whose tunnel it is
                Map<String, String> withId = new HashMap<>(labels);
                withId.put(ID_LABEL, s.clientId());
                e = Endpoint.peer(s.clientId() + "@" + HostPort.format(from), withId, s, ScoringConfig.DEFAULT);
            } else {
                e = Endpoint.peer(HostPort.format(from), labels, s, ScoringConfig.DEFAULT);
            }
            s.endpoint(e);
            sessions.add(s);
            control.execute(() -> {
                if (sink != null) {
                    sink.add(e);
                }
            });
            cluster.sample(e, true, handshakeNanos); // after the endpoint joined: its first score
        }

        void remove(ServerSession s) {
            sessions.remove(s);
            Endpoint e = s.endpoint();
            if (e != null) {
                control.execute(() -> {
                    if (sink != null) {
                        sink.remove(e);
                    }
                });
            }
        }
    }

    /** The label that names an endpoint's client id in a shared cluster. */
    static final String ID_LABEL = "id";
    /** A shared cluster's active set: every tunnel (edges are told apart by the request's filter, not by the selector). */
    private static final int SHARED_MAX_PEERS = 100_000;
    private static final int SHARED_ATTEMPTS = 3;

    private String key(String id) {
        return shared != null ? shared : id;
    }

    private Client client(String id, int maxTunnels) {
        return clients.computeIfAbsent(key(id), k -> {
            Client c = new Client(k, maxTunnels);
            c.cluster.start();
            clusterRegistry.register(c.cluster);
            return c;
        });
    }

    /** The client of a configured id, or null. */
    Client client(String id) {
        return clients.get(key(id));
    }

    /** Applies a reloaded user list: new ids get a cluster; removed ones lose theirs once their tunnels are gone. */
    void update(TunnelServerConfig next) {
        config = next;
        next.users().forEach(u -> client(u.id(), u.maxTunnels()));
        clients.values().removeIf(c -> {
            boolean gone = shared == null && next.users().stream().noneMatch(u -> u.id().equals(c.id)) && c.sessions.isEmpty();
            if (gone) {
                retire(c);
            }
            return gone;
        });
    }

    private void retire(Client c) {
        clusterRegistry.unregister(c.cluster);
        c.cluster.close();
    }

    /** Registers an authenticated tunnel as an endpoint of its id's cluster; {@code handshakeNanos}: its first round trip. */
    void register(ServerSession s, long handshakeNanos) {
        client(s.clientId(), s.user().maxTunnels()).add(s, handshakeNanos);
        republish();
    }

    void unregister(ServerSession s) {
        Client c = clients.get(key(s.clientId()));
        if (c != null) {
            c.remove(s);
            if (shared == null && c.sessions.isEmpty() && config.users().stream().noneMatch(u -> u.id().equals(c.id)) && clients.remove(c.id, c)) {
                retire(c);
            }
        }
        republish();
    }

    /** The tunnel sent GOAWAY: no new stream goes to it, its open ones go on. */
    void draining(ServerSession s) {
        Client c = clients.get(key(s.clientId()));
        if (c != null) {
            c.remove(s);
        }
    }

    /** The cluster every client id's tunnels join, or null when each id has its own. */
    Cluster sharedCluster() {
        Client c = shared == null ? null : clients.get(shared);
        return c == null ? null : c.cluster;
    }

    /** Connected tunnels of a client id (its replicas). */
    List<ServerSession> sessions(String clientId) {
        Client c = clients.get(key(clientId));
        return c == null ? List.of() : c.sessions.stream().filter(s -> s.clientId().equals(clientId)).toList();
    }

    Iterable<Client> clients() {
        return clients.values();
    }

    private void republish() {
        Map<String, Published> http = new HashMap<>();
        Map<String, Published> tls = new HashMap<>();
        for (Client c : clients.values()) {
            for (ServerSession s : c.sessions) {
                for (TunnelProtocol.Service svc : services(s, null)) {
                    Map<String, Published> into = "tls".equals(svc.type()) ? tls : "http".equals(svc.type()) ? http : null;
                    if (into != null && svc.hosts() != null) {
                        svc.hosts().forEach(h -> into.putIfAbsent(h.toLowerCase(Locale.ROOT), new Published(c.id, svc.name())));
                    }
                }
            }
        }
        httpHosts = Map.copyOf(http);
        tlsHosts = Map.copyOf(tls);
    }

    static List<TunnelProtocol.Service> services(ServerSession s, String type) {
        List<TunnelProtocol.Service> all = s.auth().services();
        return all == null ? List.of() : all.stream().filter(svc -> type == null || type.equals(svc.type())).toList();
    }

    /**
     * Routes an HTTP request by its Host, or a TLS connection by its SNI: a client that published
     * the name as a host of a service of that kind, else client {@code <id>} for {@code <id>.<domain>}
     * (with no domain configured, the name's first label), on its first service of that kind. A
     * configured id with no tunnel connected still routes, to its empty cluster, so that the
     * ingress can say so (503) rather than claim no such host exists.
     */
    @Override
    public Route route(DestinationRequest request) {
        String name = request.hostName();
        if (name == null || shared != null) { // a shared cluster's tunnels publish nothing by name
            return null;
        }
        name = name.toLowerCase(Locale.ROOT);
        String type = request.protocol().equals(DestinationRequest.TLS) ? "tls" : "http";
        Published p = (type.equals("tls") ? tlsHosts : httpHosts).get(name);
        if (p != null) {
            Client c = clients.get(p.clientId());
            return c == null ? null : new Route(c.cluster, request.withTarget(p.service(), 0));
        }
        String id = idOf(name);
        Client c = id == null ? null : clients.get(id);
        if (c == null) {
            return null;
        }
        if (c.sessions.isEmpty()) {
            return new Route(c.cluster, request.withTarget("", 0)); // fails with no endpoint: the ingress answers 503
        }
        for (ServerSession s : c.sessions) {
            List<TunnelProtocol.Service> matching = services(s, type);
            if (!matching.isEmpty()) {
                return new Route(c.cluster, request.withTarget(matching.getFirst().name(), 0));
            }
        }
        return null;
    }

    private String idOf(String host) {
        String domain = config.domain();
        String id;
        if (domain != null) {
            String suffix = "." + domain.toLowerCase(Locale.ROOT);
            id = host.endsWith(suffix) ? host.substring(0, host.length() - suffix.length()) : null;
        } else {
            int dot = host.indexOf('.');
            id = dot > 0 ? host.substring(0, dot) : host;
        }
        return id == null || id.isEmpty() || id.indexOf('.') >= 0 ? null : id;
    }

    /** Closes every client's cluster. */
    void close() {
        clients.values().forEach(this::retire);
        clients.clear();
        log.debug("tunnel registry closed");
    }
}
