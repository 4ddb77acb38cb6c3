package dev.titan.tunnel;

import dev.titan.core.config.HostPort;
import dev.titan.core.limit.RateLimiter;
import dev.titan.core.net.Connector;
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
    private static final int MAX_TRACKED_FAILURES = 10_000;

    private volatile TunnelServerConfig config;
    private final Transport transport;
    private volatile Map<String, TunnelServerConfig.User> users;
    private final Map<String, CopyOnWriteArrayList<ServerSession>> sessions = new ConcurrentHashMap<>();
    private final Map<Integer, TcpExposure> exposures = new ConcurrentHashMap<>();
    private final Map<InetAddress, Integer> failures = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> handshakeFailures = new ConcurrentHashMap<>();
    private final AtomicLong streamsTotal = new AtomicLong();
    private final Map<String, ClientMeters> clientMeters = new ConcurrentHashMap<>();
    private final Map<String, UserLimits> userLimits = new ConcurrentHashMap<>();
    private final AtomicInteger rotation = new AtomicInteger();
    /** Every connection accepted on the tunnel port and the exposed ports while it is open: closed by {@link #close}. */
    private final ChannelGroup accepted = new DefaultChannelGroup("tunnel-server-accepted", GlobalEventExecutor.INSTANCE);
    private volatile boolean closed;
    /** Streams open in any of this server's tunnels. */
    private final Set<Channel> streams = ConcurrentHashMap.newKeySet();
    private Channel server;

    public TunnelServer(TunnelServerConfig config, Transport transport) {
        this.config = config;
        this.transport = transport;
        this.users = config.users().stream().collect(Collectors.toUnmodifiableMap(TunnelServerConfig.User::id, Function.identity()));
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
        sessions.forEach((id, list) -> {
            if (!nextUsers.containsKey(id)) {
                log.info("tunnel server: user {} removed by reload; ending its {} tunnel(s)", id, list.size());
                list.forEach(sess -> sess.channel().close());
            }
        });
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
        List<ServerSession> list = sessions.get(clientId);
        return list == null ? List.of() : List.copyOf(list);
    }

    public int tunnelCount() {
        return sessions.values().stream().mapToInt(List::size).sum();
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

    /** A tunnel and the service on its client that serve a request. */
    record Route(ServerSession session, String service) {
    }

    /**
     * Who serves HTTP for {@code host} (lower case, no port): a client that published it as a custom
     * host (allowed for its id), else client {@code id} for {@code <id>.<domain>} (or, with no domain
     * configured, for a host whose first label is {@code id}), on its first HTTP service.
     */
    Route routeHttp(String host) {
        return route(host, "http");
    }

    /** As {@link #routeHttp}, for services of {@code type} (http, or tls for SNI passthrough). */
    Route route(String host, String type) {
        for (Map.Entry<String, CopyOnWriteArrayList<ServerSession>> e : sessions.entrySet()) {
            for (ServerSession s : e.getValue()) {
                for (TunnelProtocol.Service svc : services(s, type)) {
                    if (svc.hosts() != null && svc.hosts().stream().anyMatch(host::equalsIgnoreCase)) {
                        ServerSession chosen = pick(e.getKey());
                        return chosen == null ? null : new Route(chosen, svc.name());
                    }
                }
            }
        }
        String id;
        String domain = config.domain();
        if (domain != null) {
            String suffix = "." + domain.toLowerCase(Locale.ROOT);
            id = host.endsWith(suffix) ? host.substring(0, host.length() - suffix.length()) : null;
        } else {
            int dot = host.indexOf('.');
            id = dot > 0 ? host.substring(0, dot) : host;
        }
        if (id == null || id.isEmpty() || id.indexOf('.') >= 0) {
            return null;
        }
        ServerSession chosen = pick(id);
        if (chosen == null) {
            return null;
        }
        List<TunnelProtocol.Service> matching = services(chosen, type);
        return matching.isEmpty() ? null : new Route(chosen, matching.get(0).name());
    }

    private static List<TunnelProtocol.Service> services(ServerSession s, String type) {
        List<TunnelProtocol.Service> all = s.auth().services();
        return all == null ? List.of() : all.stream().filter(svc -> type.equals(svc.type())).toList();
    }

    /**
     * Relays a user connection through a stream of {@code clientId}'s tunnel, counting it for that
     * client. Called on the user channel's loop; the stream may live on another loop, which is safe
     * because its reading starts (a task on its loop) only after the relay's handler is added (an
     * earlier task on the same loop).
     */
    void relay(Channel user, Http2StreamChannel stream, String clientId) {
        streamsTotal.incrementAndGet();
        ClientMeters m = meters(clientId);
        m.streams.increment();
        UserLimits limits = limits(clientId);
        Relay.start(user, stream, config.idleTimeout(), m, limits.toClient, limits.fromClient);
    }

    /** A user connection refused because its tunnel user is at a limit (HTTP answers 503). */
    static final class LimitReached extends IllegalStateException {
        LimitReached(String message) {
            super(message);
        }
    }

    /**
     * A user's connection count and bandwidth limits, shared by all its tunnels and connections.
     * A reload that changes a rate gives new connections a new limiter; open ones keep theirs.
     */
    private static final class UserLimits {
        final int maxConnections;
        final RateLimiter toClient;
        final RateLimiter fromClient;
        final AtomicInteger open;

        UserLimits(TunnelServerConfig.User u, AtomicInteger open) {
            this.maxConnections = u == null ? 0 : u.maxConnections();
            this.toClient = u == null || u.bytesToClient() == 0 ? null : RateLimiter.of(u.bytesToClient());
            this.fromClient = u == null || u.bytesFromClient() == 0 ? null : RateLimiter.of(u.bytesFromClient());
            this.open = open;
        }

        boolean sameAs(TunnelServerConfig.User u) {
            return maxConnections == u.maxConnections() && rate(toClient) == u.bytesToClient() && rate(fromClient) == u.bytesFromClient();
        }

        private static long rate(RateLimiter r) {
            return r == null ? 0 : r.bytesPerSecond();
        }

        /** Counts {@code user} until it closes, unless that would pass the limit. */
        boolean admit(Channel user) {
            if (open.incrementAndGet() > maxConnections && maxConnections > 0) {
                open.decrementAndGet();
                return false;
            }
            user.closeFuture().addListener(f -> open.decrementAndGet());
            return true;
        }
    }

    private UserLimits limits(String clientId) {
        TunnelServerConfig.User u = users.get(clientId);
        UserLimits current = userLimits.get(clientId);
        if (current != null && (u == null || current.sameAs(u))) {
            return current;
        }
        return userLimits.compute(clientId, (id, old) -> old != null && (u == null || old.sameAs(u)) ? old
                : new UserLimits(u, old == null ? new AtomicInteger() : old.open));
    }

    /** A stream of {@code clientId} that one replica could not take goes to another. */
    void countRedispatch(String clientId) {
        meters(clientId).redispatched.increment();
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
        List<Meter> meters = new ArrayList<>();
        for (TunnelServerConfig.User u : config.users()) {
            String id = u.id();
            ClientMeters m = meters(id);
            meters.add(Gauge.builder("titan_tunnel_connected", () -> sessions(id).size()).tag("client", id)
                    .description("Tunnels of this client id that are connected").register(registry));
            meters.add(Gauge.builder("titan_tunnel_streams_active", () -> sessions(id).stream().mapToInt(ServerSession::activeStreams).sum())
                    .tag("client", id).description("Streams open in this client's tunnels").register(registry));
            meters.add(FunctionCounter.builder("titan_tunnel_streams", m.streams, LongAdder::sum).tag("client", id)
                    .description("Streams opened to this client (one per user connection)").register(registry));
            meters.add(FunctionCounter.builder("titan_tunnel_streams_redispatched", m.redispatched, LongAdder::sum).tag("client", id)
                    .description("Streams a replica of this client could not take (refused, or its tunnel ended first), passed to another")
                    .register(registry));
            meters.add(FunctionCounter.builder("titan_tunnel_bytes", m.bytesToClient, LongAdder::sum).tags("client", id, "direction", "to_client")
                    .baseUnit("bytes").description("Bytes relayed through this client's tunnels").register(registry));
            meters.add(FunctionCounter.builder("titan_tunnel_bytes", m.bytesFromClient, LongAdder::sum).tags("client", id, "direction", "from_client")
                    .baseUnit("bytes").description("Bytes relayed through this client's tunnels").register(registry));
            meters.add(Gauge.builder("titan_tunnel_rtt_seconds", () -> sessions(id).stream().mapToLong(ServerSession::rttNanos).max().orElse(-1) / 1e9)
                    .tag("client", id).description("The largest last PING round trip among this client's tunnels (-1: none yet)")
                    .register(registry));
        }
        for (String reason : List.of("unknown_or_bad_secret", "timeout", "malformed", "not_allowed", "too_many_tunnels")) {
            AtomicLong n = handshakeFailures.computeIfAbsent(reason, k -> new AtomicLong());
            meters.add(FunctionCounter.builder("titan_tunnel_handshake_failures", n, AtomicLong::get).tag("reason", reason)
                    .description("Refused or failed tunnel handshakes").register(registry));
        }
        return meters;
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
                p.addAfter(ctx.name(), "handshake", new ServerHandshake());
            } else {
                ctx.channel().config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
                ctx.channel().config().setOption(ChannelOption.WRITE_BUFFER_WATER_MARK, Connector.WATER_MARK);
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
        ctx.pipeline().addAfter("ws-bytes", "handshake", new ServerHandshake());
    }

    /**
     * Opens a stream for {@code route} and sends {@code firstFlight} on it (taken over; may be
     * empty); completes once a replica of the client accepted the stream, trying the others when
     * one cannot take it (see {@link StreamOpening}).
     */
    Future<Http2StreamChannel> open(Route route, Channel user, ByteBuf firstFlight) {
        Promise<Http2StreamChannel> result = route.session().channel().eventLoop().newPromise();
        UserLimits limits = limits(route.session().clientId());
        if (!limits.admit(user)) {
            firstFlight.release();
            return result.setFailure(new LimitReached("user " + route.session().clientId() + " has its max_connections ("
                    + limits.maxConnections + ") open"));
        }
        return StreamOpening.start(this, route, user, firstFlight, result, config.settings().openTimeout());
    }

    /**
     * The replica of {@code clientId} with the fewest active streams, or null; replicas that
     * refused their last streams only when no other can take one (see {@link ServerSession#refused}).
     */
    ServerSession pick(String clientId) {
        return pick(clientId, Set.of());
    }

    /** As {@link #pick(String)}, among the replicas not in {@code exclude}. */
    ServerSession pick(String clientId, Set<ServerSession> exclude) {
        List<ServerSession> list = sessions.get(clientId);
        if (list == null) {
            return null;
        }
        // least active streams; ties go round the replicas so that light load is shared too
        int n = list.size();
        int start = Math.floorMod(rotation.getAndIncrement(), Math.max(1, n));
        long now = System.nanoTime();
        ServerSession best = null;
        ServerSession bestAvoided = null; // replicas that refused lately: only when no other can take it
        for (int i = 0; i < n; i++) {
            ServerSession s;
            try {
                s = list.get((start + i) % n);
            } catch (IndexOutOfBoundsException e) {
                break; // a replica left meanwhile
            }
            if (!s.hasCapacity() || exclude.contains(s)) {
                continue;
            }
            if (s.avoided(now)) {
                if (bestAvoided == null || s.activeStreams() < bestAvoided.activeStreams()) {
                    bestAvoided = s;
                }
            } else if (best == null || s.activeStreams() < best.activeStreams()) {
                best = s;
            }
        }
        return best != null ? best : bestAvoided;
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
        sessions.values().forEach(list -> list.forEach(s -> {
            CompletableFuture<Void> done = new CompletableFuture<>();
            s.channel().closeFuture().addListener(f -> done.complete(null));
            ended.add(done);
            s.end(timeout);
        }));
        return CompletableFuture.allOf(ended.toArray(CompletableFuture[]::new));
    }

    private void failed(String reason) {
        handshakeFailures.computeIfAbsent(reason, k -> new AtomicLong()).incrementAndGet();
    }

    /** Registers an authenticated tunnel and exposes what it publishes. On the tunnel's event loop. */
    private void register(ServerSession s) {
        sessions.computeIfAbsent(s.clientId(), k -> new CopyOnWriteArrayList<>()).add(s);
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
        List<ServerSession> list = sessions.get(s.clientId());
        if (list != null) {
            list.remove(s);
        }
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

    /** A refused handshake waits longer the more this address failed: 250 ms doubling, at most 30 s. */
    private long refusalDelayMillis(InetAddress ip) {
        if (failures.size() > MAX_TRACKED_FAILURES) {
            failures.clear(); // bounded memory: a flood of addresses resets the memory, not the delay's purpose
        }
        int n = failures.merge(ip, 1, Integer::sum);
        return Math.min(30_000, 250L << Math.min(7, n - 1));
    }

    /** Reads the magic and the Auth, answers, and on success hands the connection to HTTP/2. */
    private final class ServerHandshake extends TimedHandshake {
        private enum State { MAGIC, AUTH, DONE }

        private State state = State.MAGIC;
        private String nonce;

        ServerHandshake() {
            super(config.settings().handshakeTimeout());
        }

        @Override
        protected void timedOut(ChannelHandlerContext ctx) {
            failed("timeout");
            log.debug("tunnel handshake from {} timed out", ctx.channel().remoteAddress());
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            if (state == State.DONE) {
                in.skipBytes(in.readableBytes());
                return;
            }
            if (state == State.MAGIC) {
                // judge each byte as it arrives: a stranger is dropped at its first wrong byte, not at the timeout
                int seen = Math.min(in.readableBytes(), TunnelProtocol.MAGIC.length);
                for (int i = 0; i < seen; i++) {
                    if (in.getByte(in.readerIndex() + i) != TunnelProtocol.MAGIC[i]) {
                        failed("malformed");
                        refuseNow(ctx, "not a Titan tunnel");
                        return;
                    }
                }
                if (in.readableBytes() < TunnelProtocol.MAGIC.length + 1) {
                    return;
                }
                in.skipBytes(TunnelProtocol.MAGIC.length);
                int version = in.readUnsignedByte();
                if (version != TunnelProtocol.VERSION) {
                    failed("malformed");
                    refuse(ctx, "unsupported tunnel version " + version + " (server speaks " + TunnelProtocol.VERSION + ")");
                    return;
                }
                nonce = TunnelProtocol.newNonce();
                ctx.writeAndFlush(TunnelProtocol.encode(ctx.alloc(), new TunnelProtocol.Challenge(TunnelProtocol.VERSION, nonce)));
                state = State.AUTH;
            }
            TunnelProtocol.Auth auth = TunnelProtocol.decode(in, TunnelProtocol.Auth.class);
            if (auth == null) {
                return;
            }
            state = State.DONE;
            TunnelServerConfig.User user = auth.id() == null ? null : users.get(auth.id());
            // the same answer for an unknown id and a wrong secret: the reply must not reveal which ids exist
            if (user == null || !TunnelProtocol.proofMatches(user.secret(), nonce, auth.id(), auth.proof())) {
                failed("unknown_or_bad_secret");
                log.info("tunnel handshake from {} refused: unknown id or wrong secret", ctx.channel().remoteAddress());
                refuse(ctx, "unknown id or wrong secret");
                return;
            }
            String notAllowed = checkServices(user, auth);
            if (notAllowed != null) {
                failed("not_allowed");
                refuse(ctx, notAllowed);
                return;
            }
            if (sessions(user.id()).size() >= user.maxTunnels()) {
                failed("too_many_tunnels");
                refuse(ctx, "id " + user.id() + " already has " + user.maxTunnels() + " tunnels");
                return;
            }
            failures.remove(((InetSocketAddress) ctx.channel().remoteAddress()).getAddress());
            ctx.writeAndFlush(TunnelProtocol.encode(ctx.alloc(), TunnelProtocol.Result.accepted()));
            ServerSession session = new ServerSession(ctx.channel(), user, auth, config.settings().maxStreams());
            startHttp2(ctx, session);
            ctx.pipeline().remove(this); // bytes already read after the Auth go on to HTTP/2
            register(session);
        }

        private String checkServices(TunnelServerConfig.User user, TunnelProtocol.Auth auth) {
            if (auth.services() == null) {
                return null;
            }
            for (TunnelProtocol.Service s : auth.services()) {
                if (s.name() == null || s.name().isBlank()) {
                    return "a service has no name";
                }
                if ("tcp".equals(s.type()) && s.remotePort() != null && !user.mayExpose(s.remotePort())) {
                    return "service " + s.name() + ": port " + s.remotePort() + " is not allowed for id " + user.id();
                }
                for (String host : s.hosts() == null ? List.<String>of() : s.hosts()) {
                    if (!user.mayServe(host)) {
                        return "service " + s.name() + ": host " + host + " is not allowed for id " + user.id();
                    }
                }
            }
            return null;
        }

        private void refuse(ChannelHandlerContext ctx, String reason) {
            state = State.DONE;
            long delay = refusalDelayMillis(((InetSocketAddress) ctx.channel().remoteAddress()).getAddress());
            stopClock();
            ctx.executor().schedule(() -> {
                if (ctx.channel().isActive()) {
                    ctx.writeAndFlush(TunnelProtocol.encode(ctx.alloc(), TunnelProtocol.Result.refused(reason, delay)))
                            .addListener(f -> ctx.close());
                }
            }, delay, TimeUnit.MILLISECONDS);
        }

        private void refuseNow(ChannelHandlerContext ctx, String reason) {
            state = State.DONE;
            log.debug("connection from {} closed: {}", ctx.channel().remoteAddress(), reason);
            ctx.close();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            failed("malformed");
            log.debug("tunnel handshake from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
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
        p.addLast("keepalive", new Keepalive(s.pingInterval(), s.pingTimeout(), session::rtt, session::goAwayReceived));
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
            transport.serverBootstrap()
                    .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, Connector.WATER_MARK)
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
                ServerSession s = pick(clientId);
                if (s == null) {
                    log.debug("{}/{}: no tunnel connected, closing {}", clientId, service, user.remoteAddress());
                    user.close();
                    return;
                }
                // the user's bytes wait for the stream's answer (an EarlyInput holds what arrives meanwhile)
                open(new Route(s, service), user, Unpooled.EMPTY_BUFFER).addListener(f -> {
                    if (!f.isSuccess()) {
                        user.close();
                        return;
                    }
                    Http2StreamChannel stream = (Http2StreamChannel) f.getNow();
                    if (!user.isActive()) {
                        stream.close();
                        return;
                    }
                    ctx.pipeline().remove(this);
                    relay(user, stream, clientId);
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
        sessions.values().forEach(all::addAll);
        return all;
    }
}
