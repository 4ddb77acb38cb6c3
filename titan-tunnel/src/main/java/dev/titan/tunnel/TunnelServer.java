package dev.titan.tunnel;

import dev.titan.core.config.HostPort;
import dev.titan.core.limit.RateLimiter;
import dev.titan.core.cluster.Cluster;
import dev.titan.core.engine.ClusterRegistry;
import dev.titan.core.limit.ConnectionLimits;
import dev.titan.core.net.RelayOptions;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
import dev.titan.core.net.EarlyInput;
import dev.titan.core.net.Relay;
import dev.titan.core.net.Transport;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.SslContext;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The public side of the reverse tunnel: accepts tunnels from clients behind NAT, authenticates
 * them, and exposes their services (a TCP port per published TCP service). Clients with the same
 * id are replicas: each user connection goes to the replica with the fewest active streams, and a
 * replica that goes away simply stops being chosen.
 */
public final class TunnelServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TunnelServer.class);

    private volatile TunnelServerConfig config;
    private final Transport transport;
    private volatile Map<String, TunnelServerConfig.User> users;
    private final TunnelRegistry registry;
    private final Map<Integer, TcpExposure> exposures = new ConcurrentHashMap<>();
    private final HandshakeGuard guard = new HandshakeGuard();
    private final Map<String, AtomicLong> handshakeFailures = new ConcurrentHashMap<>();
    private final AtomicLong streamsTotal = new AtomicLong();
    private final Map<String, ClientMeters> clientMeters = new ConcurrentHashMap<>();
    private final Map<String, UserRates> userRates = new ConcurrentHashMap<>();
    private final ConnectionLimits<String> userConnections = new ConnectionLimits<>();
    private final Map<String, List<Meter>> boundMeters = new ConcurrentHashMap<>();
    /** Every connection accepted on the tunnel port and the exposed ports while it is open: closed by {@link #close}. */
    private final ChannelGroup accepted = new DefaultChannelGroup("tunnel-server-accepted", GlobalEventExecutor.INSTANCE);
    private volatile boolean closed;
    /** Streams open in any of this server's tunnels. */
    private final Set<Channel> streams = ConcurrentHashMap.newKeySet();
    private Channel server;

    public TunnelServer(TunnelServerConfig config, Transport transport) {
        this(config, transport, ClusterRegistry.NONE);
    }

    /** A server whose clients' clusters show in {@code clusters} (the engine's status view and metrics). */
    public TunnelServer(TunnelServerConfig config, Transport transport, ClusterRegistry clusters) {
        this.config = config;
        this.transport = transport;
        this.users = config.users().stream().collect(Collectors.toUnmodifiableMap(TunnelServerConfig.User::id, Function.identity()));
        this.registry = new TunnelRegistry(config, transport, clusters);
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
        Map<String, TunnelServerConfig.User> nextUsers = next.users().stream()
                .collect(Collectors.toUnmodifiableMap(TunnelServerConfig.User::id, Function.identity()));
        config = next;
        users = nextUsers;
        registry.update(next);
        for (TunnelRegistry.Client c : registry.clients()) {
            if (!nextUsers.containsKey(c.id)) {
                log.info("tunnel server: user {} removed by reload; ending its {} tunnel(s)", c.id, c.sessions.size());
                c.sessions.forEach(sess -> sess.channel().close());
            }
        }
    }

    public InetSocketAddress start() {
        server = transport.serverBootstrap()
                .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accepted.add(ch);
                        ch.pipeline().addLast("sniff", new PortSniffer(false));
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

    /** The router of this server's ingresses (HTTP by Host, TLS by SNI). */
    Router router() {
        return registry;
    }

    /** The cluster of a configured client id (its replicas), or null. */
    public Cluster cluster(String clientId) {
        TunnelRegistry.Client c = registry.client(clientId);
        return c == null ? null : c.cluster;
    }

    /** Handshake failures by reason (unknown_or_bad_secret, timeout, malformed, not_allowed, too_many_tunnels). */
    public Map<String, Long> handshakeFailures() {
        return handshakeFailures.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().get()));
    }

    public long streamsTotal() {
        return streamsTotal.get();
    }

    /** The exposed TCP port of a client's service, if it is exposed. */
    public List<Integer> exposedPorts(String clientId) {
        return exposures.values().stream().filter(e -> e.clientId.equals(clientId)).map(e -> e.port).sorted().toList();
    }

    /**
     * Relays a user connection through a stream of {@code clientId}'s tunnel, counting it for that
     * client. Called on the user channel's loop; the stream may live on another loop, which is safe
     * because its reading starts (a task on its loop) only after the relay's handler is added (an
     * earlier task on the same loop).
     */
    void relay(Channel user, Cluster.Connection stream, Cluster cluster, String clientId) {
        streamsTotal.incrementAndGet();
        ClientMeters m = meters(clientId);
        m.streams.increment();
        cluster.opened(stream);
        cluster.reportSuccess(stream.endpoint()); // it answered 200: a refusal streak ends
        UserRates rates = rates(clientId);
        Relay.start(user, stream.channel(), config.idleTimeout(), m, rates.toClient, rates.fromClient);
    }

    /**
     * Connects {@code user} through the route's cluster (a replica of the client, tried in turn as
     * the cluster retries), counting it against its tunnel user's max_connections first. The
     * request's first bytes go out with the stream's open and are the caller's to release.
     */
    Future<Cluster.Connection> connect(Router.Route route, Channel user) {
        String clientId = route.cluster().name().substring(TunnelRegistry.CLUSTER_PREFIX.length());
        TunnelServerConfig.User u = users.get(clientId);
        int max = u == null ? 0 : u.maxConnections();
        if (!userConnections.admit(clientId, max, user)) {
            return user.eventLoop().newFailedFuture(new LimitReached("user " + clientId + " has its max_connections (" + max + ") open"));
        }
        return route.cluster().connect(user.eventLoop(), route.request());
    }

    /** A user connection refused because its tunnel user is at a limit (HTTP answers 503). */
    static final class LimitReached extends IllegalStateException {
        LimitReached(String message) {
            super(message);
        }
    }

    /** A user's bandwidth limits, shared by all its connections; a reload that changes a rate gives new connections new limiters. */
    private record UserRates(long toClientRate, long fromClientRate, RateLimiter toClient, RateLimiter fromClient) {
        static UserRates of(TunnelServerConfig.User u) {
            long to = u == null ? 0 : u.bytesToClient();
            long from = u == null ? 0 : u.bytesFromClient();
            return new UserRates(to, from, to == 0 ? null : RateLimiter.of(to), from == 0 ? null : RateLimiter.of(from));
        }

        boolean sameAs(TunnelServerConfig.User u) {
            return u == null || (toClientRate == u.bytesToClient() && fromClientRate == u.bytesFromClient());
        }
    }

    private UserRates rates(String clientId) {
        TunnelServerConfig.User u = users.get(clientId);
        UserRates current = userRates.get(clientId);
        if (current != null && current.sameAs(u)) {
            return current;
        }
        return userRates.compute(clientId, (id, old) -> old != null && old.sameAs(u) ? old : UserRates.of(u));
    }

    private ClientMeters meters(String clientId) {
        return clientMeters.computeIfAbsent(clientId, id -> new ClientMeters());
    }

    /**
     * Registers the tunnel metrics: per client id (ids come from the configuration, so the label
     * set is bounded) tunnels connected, streams active and total, bytes each way, the largest PING
     * round trip among its tunnels; handshake failures by reason.
     */
    public List<Meter> bindMetrics(MeterRegistry registry) {
        List<Meter> all = new ArrayList<>();
        for (TunnelServerConfig.User u : config.users()) {
            all.addAll(boundMeters.computeIfAbsent(u.id(), id -> clientMeters(registry, id)));
        }
        boundMeters.keySet().removeIf(id -> {
            if (users.containsKey(id)) {
                return false;
            }
            boundMeters.get(id).forEach(registry::remove);
            return true;
        });
        all.addAll(boundMeters.computeIfAbsent("", k -> {
            List<Meter> meters = new ArrayList<>();
            for (String reason : List.of("unknown_or_bad_secret", "timeout", "malformed", "not_allowed", "too_many_tunnels", "busy")) {
                AtomicLong n = handshakeFailures.computeIfAbsent(reason, r -> new AtomicLong());
                meters.add(FunctionCounter.builder("titan_tunnel_handshake_failures", n, AtomicLong::get).tag("reason", reason)
                        .description("Refused or failed tunnel handshakes, and connections to the tunnel port closed as malformed")
                        .register(registry));
            }
            return meters;
        }));
        return all;
    }

    /** The meters of one client id (ids come from the configuration, so the label set is bounded); registered once. */
    private List<Meter> clientMeters(MeterRegistry registry, String id) {
        List<Meter> meters = new ArrayList<>();
        ClientMeters m = meters(id);
        meters.add(Gauge.builder("titan_tunnel_connected", () -> sessions(id).size()).tag("client", id)
                .description("Tunnels of this client id that are connected").register(registry));
        meters.add(Gauge.builder("titan_tunnel_streams_active", () -> sessions(id).stream().mapToInt(ServerSession::activeStreams).sum())
                .tag("client", id).description("Streams open in this client's tunnels").register(registry));
        meters.add(FunctionCounter.builder("titan_tunnel_streams", m.streams, LongAdder::sum).tag("client", id)
                .description("Streams opened to this client (one per user connection)").register(registry));
        meters.add(FunctionCounter.builder("titan_tunnel_streams_redispatched", this, t -> t.retries(id)).tag("client", id)
                .description("Streams a replica of this client could not take (refused, or its tunnel ended first), passed to another")
                .register(registry));
        meters.add(FunctionCounter.builder("titan_tunnel_bytes", m.bytesToClient, LongAdder::sum).tags("client", id, "direction", "to_client")
                .baseUnit("bytes").description("Bytes relayed through this client's tunnels").register(registry));
        meters.add(FunctionCounter.builder("titan_tunnel_bytes", m.bytesFromClient, LongAdder::sum).tags("client", id, "direction", "from_client")
                .baseUnit("bytes").description("Bytes relayed through this client's tunnels").register(registry));
        meters.add(Gauge.builder("titan_tunnel_rtt_seconds", () -> sessions(id).stream().mapToLong(ServerSession::rttNanos).max().orElse(-1) / 1e9)
                .tag("client", id).description("The largest last PING round trip among this client's tunnels (-1: none yet)")
                .register(registry));
        return meters;
    }

    /** Streams of {@code clientId} that one replica could not take and the cluster tried on another. */
    private double retries(String clientId) {
        Cluster c = cluster(clientId);
        return c == null ? 0 : c.stats().retries();
    }

    /**
     * Port sharing: tells a tunnel, a TLS ClientHello and an HTTP request apart by the first bytes
     * ("TTUN", 0x16, a method name) and hands the connection to the matching handler, bytes included.
     */
    private final class PortSniffer extends TimedHandshake {
        private final boolean secure;

        /** {@code secure}: the bytes come out of TLS this server terminated. */
        PortSniffer(boolean secure) {
            super(config.settings().handshakeTimeout());
            this.secure = secure;
        }

        @Override
        protected void timedOut(ChannelHandlerContext ctx) {
            failed("timeout");
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            if (!secure && in.isReadable() && in.getByte(in.readerIndex()) == 0x16) {
                // a TLS handshake record: passthrough by SNI, or terminated here when no client serves the name
                ctx.pipeline().addAfter(ctx.name(), "sni", new SniIngress(TunnelServer.this, config.settings().handshakeTimeout()));
                ctx.pipeline().remove(this);
                return;
            }
            int n = Math.min(in.readableBytes(), TunnelProtocol.MAGIC.length);
            boolean tunnel = true;
            for (int i = 0; i < n && tunnel; i++) {
                tunnel = in.getByte(in.readerIndex() + i) == TunnelProtocol.MAGIC[i];
            }
            if (tunnel && n < TunnelProtocol.MAGIC.length) {
                return; // "T" might be TTUN or TRACE: wait for more
            }
            if (!tunnel) {
                // HTTP starts with a method: upper-case letters and a space; anything else is closed at once
                int limit = Math.min(in.readableBytes(), 8);
                int i = 0;
                while (i < limit && in.getByte(in.readerIndex() + i) >= 'A' && in.getByte(in.readerIndex() + i) <= 'Z') {
                    i++;
                }
                if (i == limit && limit < 8) {
                    return; // still reading the method
                }
                if (i == 0 || i == limit || in.getByte(in.readerIndex() + i) != ' ') {
                    failed("malformed");
                    log.debug("connection from {} closed: neither a tunnel nor HTTP", ctx.channel().remoteAddress());
                    in.skipBytes(in.readableBytes());
                    ctx.close();
                    return;
                }
            }
            ChannelPipeline p = ctx.pipeline();
            if (tunnel) {
                p.addAfter(ctx.name(), "handshake", new ServerHandshake(TunnelServer.this));
            } else {
                RelayOptions.apply(ctx.channel());
                p.addAfter(ctx.name(), "http", new HttpIngress(TunnelServer.this, config.settings().handshakeTimeout(), secure));
            }
            p.remove(this); // what was read goes on to the chosen handler
        }
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
        p.addAfter("tls", "sniff", new PortSniffer(true));
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
        StreamAdapter.closeStreams(streams); // also those of tunnels that ended earlier, paused with bytes queued
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
        exposures.values().forEach(TcpExposure::close);
        exposures.clear();
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
        handshakeFailures.computeIfAbsent(reason, k -> new AtomicLong()).incrementAndGet();
    }

    /** Registers an authenticated tunnel and exposes what it publishes. On the tunnel's event loop. */
    private void register(ServerSession s, long handshakeNanos) {
        registry.register(s, handshakeNanos);
        log.info("tunnel of {} connected from {} ({} replica(s))", s.clientId(), s.channel().remoteAddress(), sessions(s.clientId()).size());
        List<TunnelProtocol.Service> services = s.auth().services() == null ? List.of() : s.auth().services();
        for (TunnelProtocol.Service svc : services) {
            if ("tcp".equals(svc.type()) && svc.remotePort() != null) {
                TcpExposure e = exposures.computeIfAbsent(svc.remotePort(), port -> new TcpExposure(s.clientId(), svc.name(), port));
                if (!e.clientId.equals(s.clientId()) || !e.service.equals(svc.name())) {
                    log.warn("tunnel of {}: port {} is already exposed for {}/{}", s.clientId(), svc.remotePort(), e.clientId, e.service);
                }
            }
        }
        s.channel().closeFuture().addListener(f -> unregister(s));
    }

    private void unregister(ServerSession s) {
        registry.unregister(s);
        log.info("tunnel of {} from {} closed ({} replica(s) left)", s.clientId(), s.channel().remoteAddress(), sessions(s.clientId()).size());
        if (sessions(s.clientId()).isEmpty()) {
            exposures.values().removeIf(e -> {
                if (e.clientId.equals(s.clientId())) {
                    e.close();
                    return true;
                }
                return false;
            });
        }
    }

    /** Takes an authenticated tunnel: HTTP/2 on its pipeline, then its client's cluster. On the tunnel's loop. */
    void accept(ChannelHandlerContext ctx, ServerSession session, long handshakeNanos) {
        startHttp2(ctx, session);
        register(session, handshakeNanos);
    }

    TunnelServerConfig config() {
        return config;
    }

    TunnelServerConfig.User user(String id) {
        return id == null ? null : users.get(id);
    }

    HandshakeGuard guard() {
        return guard;
    }

    private void startHttp2(ChannelHandlerContext ctx, ServerSession session) {
        TunnelSettings s = config.settings();
        Http2FrameCodec codec = s.codec(false);
        ChannelPipeline p = ctx.pipeline();
        p.addLast("flush", new FlushConsolidationHandler(FLUSHES_PER_WRITE, true)); // above TLS: fewer, larger records
        p.addLast("h2", codec);
        session.codec(codec);
        StreamAdapter.track(ctx.channel(), streams);
        p.addLast("mux", new Http2MultiplexHandler(REFUSE_STREAMS));
        p.addLast("keepalive", new Keepalive(s.pingInterval(), s.pingTimeout(), rtt -> {
            session.rtt(rtt);
            Cluster c = cluster(session.clientId());
            if (c != null && session.endpoint() != null) {
                c.sample(session.endpoint(), true, rtt); // every PING feeds the replica's score (latency, jitter)
            }
        }, () -> {
            session.goAwayReceived();
            registry.draining(session);
        }));
        p.addLast("errors", new TunnelErrors());
        ctx.channel().writeAndFlush(new DefaultHttp2WindowUpdateFrame(s.connectionWindow() - 65_535));
    }

    /**
     * Streams of one tunnel each flush after their writes; consolidated, one read loop's worth of
     * frames leaves in one write instead of one syscall per stream.
     */
    static final int FLUSHES_PER_WRITE = 256;

    /** Streams opened by a client are not part of the protocol: closed at once. */
    private static final ChannelHandler REFUSE_STREAMS = new Refuse();

    @ChannelHandler.Sharable
    private static final class Refuse extends ChannelInboundHandlerAdapter {
        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            ctx.close();
        }
    }

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

    /** A server port that forwards each accepted connection to a service of a client. */
    private final class TcpExposure {
        final String clientId;
        final String service;
        final int port;
        private final ExposedConnection exposed = new ExposedConnection();
        private volatile Channel channel;
        private volatile boolean closed;

        TcpExposure(String clientId, String service, int port) {
            this.clientId = clientId;
            this.service = service;
            this.port = port;
            InetSocketAddress at = new InetSocketAddress(config.exposeHost(), port);
            RelayOptions.acceptedChildren(transport.serverBootstrap())
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            accepted.add(ch);
                            ch.pipeline().addLast("expose", exposed).addLast(EarlyInput.NAME, new EarlyInput());
                        }
                    })
                    .bind(at).addListener(f -> {
                        if (!f.isSuccess()) {
                            log.warn("cannot expose {}/{} on {}: {}", clientId, service, HostPort.format(at), f.cause().getMessage());
                            exposures.remove(port, this);
                            return;
                        }
                        channel = ((ChannelFuture) f).channel();
                        if (closed) {
                            channel.close();
                        } else {
                            log.info("exposing {}/{} on {}", clientId, service, HostPort.format(at));
                        }
                    });
        }

        void close() {
            closed = true;
            Channel ch = channel;
            if (ch != null) {
                ch.close();
                log.info("no longer exposing {}/{} on port {}", clientId, service, port);
            }
        }

        @ChannelHandler.Sharable
        private final class ExposedConnection extends ChannelInboundHandlerAdapter {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                Channel user = ctx.channel();
                Cluster cluster = cluster(clientId);
                if (cluster == null) {
                    user.close();
                    return;
                }
                // the user's bytes wait for the stream's answer (an EarlyInput holds what arrives meanwhile)
                Router.Route route = new Router.Route(cluster, DestinationRequest.tcp("tunnel-port-" + port, user).withTarget(service, 0));
                connect(route, user).addListener((Future<Cluster.Connection> f) -> {
                    if (!f.isSuccess()) {
                        log.debug("{}/{}: {}, closing {}", clientId, service, f.cause().getMessage(), user.remoteAddress());
                        user.close();
                        return;
                    }
                    Cluster.Connection stream = f.getNow();
                    if (!user.isActive()) {
                        stream.channel().close();
                        return;
                    }
                    ctx.pipeline().remove(this);
                    relay(user, stream, cluster, clientId);
                });
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                ctx.close();
            }
        }
    }


    /** For tests: every session of every client. */
    List<ServerSession> allSessions() {
        List<ServerSession> all = new ArrayList<>();
        registry.clients().forEach(c -> all.addAll(c.sessions));
        return all;
    }
}
