package dev.titan.tunnel;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.config.HostPort;
import dev.titan.core.engine.ClusterRegistry;
import dev.titan.core.ingress.Forwarder;
import dev.titan.core.metrics.TitanMetrics;
import dev.titan.core.net.Transport;
import dev.titan.core.store.ConfigStore;
import dev.titan.core.store.Store;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The public side of the reverse tunnel: accepts tunnels from clients behind NAT, authenticates
 * them, and exposes their services: HTTP by Host and TLS by SNI on the tunnel port (port sharing,
 * see {@link PortSniffer}), and a TCP port per published TCP service ({@link Exposures}). Every
 * user connection takes the core's path: an ingress makes a request, the {@link TunnelRegistry}
 * routes it to its client's cluster, whose balancer picks a replica (a tunnel), whose
 * {@link TunnelConnector} opens a stream, and the relay copies bytes.
 */
public final class TunnelServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TunnelServer.class);
    /** The listener name of the tunnel port, in requests and listener meters. */
    static final String LISTENER = "tunnel_server";

    private volatile TunnelServerConfig config;
    private final Transport transport;
    private final ConfigStore store;
    /** What each configured client id may publish (ports, hosts, tunnels); its secret and limits are the store's. */
    private volatile Map<String, TunnelServerConfig.User> clients;
    private final TunnelAccounts accounts;
    private final TunnelRegistry registry;
    private final ServerMetrics meters;
    private final Exposures exposures;
    private final Forwarder forwarder;
    private final TitanMetrics.ListenerMeters portMeters;
    private final HandshakeGuard guard = new HandshakeGuard();
    /** Every connection accepted on the tunnel port while it is open: closed by {@link #close}. */
    private final ChannelGroup accepted = new DefaultChannelGroup("tunnel-server-accepted", GlobalEventExecutor.INSTANCE);
    private volatile boolean closed;
    /** Streams open in any of this server's tunnels. */
    private final Set<Channel> streams = ConcurrentHashMap.newKeySet();
    private Channel server;

    public TunnelServer(TunnelServerConfig config, Transport transport) {
        this(config, transport, ClusterRegistry.NONE, new TitanMetrics());
    }

    /**
     * A server whose clients' clusters show in {@code clusters} (the engine's status view and
     * metrics) and whose ports count in {@code metrics}' listener meters.
     */
    public TunnelServer(TunnelServerConfig config, Transport transport, ClusterRegistry clusters, TitanMetrics metrics) {
        this(config, transport, clusters, metrics, null);
    }

    /**
     * A server whose clients' tunnels all join one cluster named {@code sharedCluster} (an overlay
     * PoP's edges, each endpoint labelled with its id), or one cluster per client id when null.
     */
    public TunnelServer(TunnelServerConfig config, Transport transport, ClusterRegistry clusters, TitanMetrics metrics, String sharedCluster) {
        this.config = config;
        this.transport = transport;
        this.store = new ConfigStore(accountsOf(config));
        this.clients = byId(config);
        this.accounts = new TunnelAccounts(store);
        this.registry = new TunnelRegistry(config, transport, clusters, new TunnelConnector(accounts, sharedCluster == null), sharedCluster);
        this.meters = new ServerMetrics(this, accounts);
        this.exposures = new Exposures(transport, metrics, this::cluster);
        this.portMeters = metrics.listener(LISTENER);
        this.forwarder = new Forwarder(() -> registry, portMeters, () -> this.config.idleTimeout());
    }

    /**
     * Applies a reloaded configuration without touching the tunnel port: users, hosts, ports,
     * domain and settings apply to new handshakes and requests; tunnels of users who are no longer
     * configured are ended gracefully (GOAWAY, then closed when their streams end); the others keep
     * running. A different {@code listen_addr} needs a restart: refused with that reason.
     */
    public void update(TunnelServerConfig next) {
        if (!next.listen().equals(config.listen())) {
            throw new IllegalArgumentException("tunnel_server.listen_addr changed (" + HostPort.format(config.listen()) + " -> "
                    + HostPort.format(next.listen()) + "): applies at the next start");
        }
        config = next;
        store.replaceUsers(accountsOf(next));
        clients = byId(next);
        registry.update(next);
        for (TunnelRegistry.Client c : registry.clients()) {
            for (ServerSession sess : c.sessions) {
                if (!clients.containsKey(sess.clientId())) {
                    log.info("tunnel server: user {} removed by reload; ending its tunnel from {}", sess.clientId(), sess.channel().remoteAddress());
                    sess.channel().close();
                }
            }
        }
    }

    private static List<Store.User> accountsOf(TunnelServerConfig c) {
        return c.users().stream().map(TunnelServerConfig.User::account).toList();
    }

    private static Map<String, TunnelServerConfig.User> byId(TunnelServerConfig c) {
        return c.users().stream().collect(Collectors.toUnmodifiableMap(TunnelServerConfig.User::id, Function.identity()));
    }

    /** Where this server's client ids (their secrets and limits), their connections and their usage are kept. */
    public Store store() {
        return store;
    }

    public InetSocketAddress start() {
        server = transport.serverBootstrap()
                .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accepted.add(ch);
                        portMeters.newConnections.increment();
                        portMeters.active.incrementAndGet();
                        ch.closeFuture().addListener(f -> portMeters.active.decrementAndGet());
                        ch.pipeline().addLast("sniff", new PortSniffer(TunnelServer.this, false));
                    }
                })
                .bind(config.listen()).syncUninterruptibly().channel();
        log.info("tunnel server listening on {}", HostPort.format(address()));
        return address();
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    /** Connected tunnels of a client id (its replicas). */
    public List<ServerSession> sessions(String clientId) {
        return registry.sessions(clientId);
    }

    public int tunnelCount() {
        int n = 0;
        for (TunnelRegistry.Client c : registry.clients()) {
            n += c.sessions.size();
        }
        return n;
    }

    /** The one cluster every client's tunnels join, for a server made with a shared cluster; else null. */
    public Cluster sharedCluster() {
        return registry.sharedCluster();
    }

    /** The cluster of a configured client id (its replicas), or null. */
    public Cluster cluster(String clientId) {
        TunnelRegistry.Client c = registry.client(clientId);
        return c == null ? null : c.cluster;
    }

    /** Handshake failures by reason (unknown_or_bad_secret, timeout, malformed, not_allowed, too_many_tunnels, busy). */
    public Map<String, Long> handshakeFailures() {
        return meters.handshakeFailures();
    }

    public long streamsTotal() {
        return accounts.streamsTotal();
    }

    /** The exposed TCP ports of a client's services. */
    public List<Integer> exposedPorts(String clientId) {
        return exposures.ports(clientId);
    }

    /** Registers the tunnel metrics (see {@link ServerMetrics}); each meter once, across reloads. */
    public List<Meter> bindMetrics(MeterRegistry registry) {
        return meters.bind(registry, config.users(), clients::containsKey);
    }

    /** The path from the tunnel port's ingresses on: router, clusters, relay. */
    Forwarder forwarder() {
        return forwarder;
    }

    /** The server's TLS context, or null when the tunnel port has no certificate. */
    SslContext tlsContext() {
        TunnelServerConfig.Tls tls = config.tls();
        return tls == null ? null : tls.context();
    }

    /** The path where a WebSocket upgrade becomes a tunnel. */
    String wsPath() {
        return config.wsPath();
    }

    /**
     * Terminates TLS on a connection whose ClientHello named no client's TLS service; what comes
     * out is sniffed like the plain port (a tunnel, a WebSocket tunnel or HTTPS to an HTTP service).
     */
    void terminateTls(ChannelHandlerContext ctx, SslContext context) {
        ChannelPipeline p = ctx.pipeline();
        p.addAfter(ctx.name(), "tls", context.newHandler(ctx.alloc()));
        p.addAfter("tls", "sniff", new PortSniffer(this, true));
    }

    /** Turns an upgraded WebSocket connection into a tunnel: the handshake comes next, inside binary frames. */
    void becomeWebSocketTunnel(ChannelHandlerContext ctx) {
        ctx.channel().config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false);
        WebSockets.install(ctx.pipeline(), ctx.name(), false, WebSockets.maxFrame(config.settings()));
        ctx.pipeline().addAfter("ws-bytes", "handshake", new ServerHandshake(this));
    }

    /**
     * Stops accepting and closes every tunnel now, and with them every stream and user connection;
     * see {@link #drain} for the graceful way. Returns once they are closed (at most a few seconds),
     * so that nothing is left for event loops that are about to stop.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        drain(Duration.ZERO).join();
        registry.close();
        exposures.close();
        MuxStream.closeAll(streams); // also those of tunnels that ended earlier, paused with bytes queued
        accepted.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    /**
     * Stops accepting (the tunnel port and the exposed ports close) and ends every tunnel
     * gracefully: GOAWAY, then each closes when its last stream has ended, or after {@code timeout}.
     * Connections already relayed through a tunnel keep going until then. Completes when every tunnel has closed.
     */
    public CompletableFuture<Void> drain(Duration timeout) {
        if (server != null) {
            server.close().syncUninterruptibly();
        }
        exposures.stopAccepting(timeout);
        List<CompletableFuture<Void>> ended = new ArrayList<>();
        for (TunnelRegistry.Client c : registry.clients()) {
            for (ServerSession s : c.sessions) {
                CompletableFuture<Void> done = new CompletableFuture<>();
                s.channel().closeFuture().addListener(f -> done.complete(null));
                ended.add(done);
                s.end(timeout);
            }
        }
        return CompletableFuture.allOf(ended.toArray(CompletableFuture[]::new));
    }

    void failed(String reason) {
        meters.failed(reason);
    }

    /** Registers an authenticated tunnel and exposes what it publishes. On the tunnel's event loop. */
    private void register(ServerSession s, long handshakeNanos) {
        registry.register(s, handshakeNanos);
        store.nodeSeen(s.clientId(), s.auth().labels() == null ? Map.of() : s.auth().labels(), java.time.Instant.now());
        log.info("tunnel of {} connected from {} ({} replica(s))", s.clientId(), s.channel().remoteAddress(), sessions(s.clientId()).size());
        List<TunnelProtocol.Service> services = s.auth().services() == null ? List.of() : s.auth().services();
        for (TunnelProtocol.Service svc : services) {
            if ("tcp".equals(svc.type()) && svc.remotePort() != null) {
                exposures.expose(s.clientId(), svc.name(), new InetSocketAddress(config.exposeHost(), svc.remotePort()), config.idleTimeout());
            }
        }
        s.channel().closeFuture().addListener(f -> unregister(s));
    }

    private void unregister(ServerSession s) {
        registry.unregister(s);
        log.info("tunnel of {} from {} closed ({} replica(s) left)", s.clientId(), s.channel().remoteAddress(), sessions(s.clientId()).size());
        if (sessions(s.clientId()).isEmpty()) {
            store.nodeLeft(s.clientId(), java.time.Instant.now());
            exposures.closeAll(s.clientId());
        }
    }

    /** Takes an authenticated tunnel: its streams on its pipeline, then its client's cluster. On the tunnel's loop. */
    void accept(ChannelHandlerContext ctx, ServerSession session, long handshakeNanos) {
        startMux(ctx, session);
        register(session, handshakeNanos);
    }

    TunnelServerConfig config() {
        return config;
    }

    /** What client {@code id} may publish, or null if it is not configured. */
    TunnelServerConfig.User client(String id) {
        return id == null ? null : clients.get(id);
    }

    HandshakeGuard guard() {
        return guard;
    }

    private void startMux(ChannelHandlerContext ctx, ServerSession session) {
        TunnelSettings s = config.settings();
        ChannelPipeline p = ctx.pipeline();
        p.addLast("flush", new FlushConsolidationHandler(FLUSHES_PER_WRITE, true)); // above TLS: fewer, larger records
        TunnelSettings.reads(ctx.channel());
        TunnelProtocol.Auth auth = session.auth();
        MuxSession mux = new MuxSession(s.mux(TunnelProtocol.windows(auth.streamWindow(), auth.connectionWindow()), rtt -> {
            session.rtt(rtt);
            Cluster c = cluster(session.clientId());
            if (c != null && session.endpoint() != null) {
                c.sample(session.endpoint(), true, rtt); // every PING feeds the replica's score (latency, jitter)
            }
        }, () -> {
            session.goAwayReceived();
            registry.draining(session);
        }, null, streams));
        p.addLast("mux", mux);
        session.mux(mux);
        p.addLast("errors", new TunnelErrors());
    }

    /**
     * Streams of one tunnel each flush after their writes; consolidated, one read loop's worth of
     * frames leaves in one write instead of one syscall per stream.
     */
    static final int FLUSHES_PER_WRITE = 256;

    /** The last handler of a tunnel: a protocol error closes that tunnel only. */
    static final class TunnelErrors extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("tunnel {} closed: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }
    }

    /** For tests: every session of every client. */
    List<ServerSession> allSessions() {
        List<ServerSession> all = new ArrayList<>();
        registry.clients().forEach(c -> all.addAll(c.sessions));
        return all;
    }
}
