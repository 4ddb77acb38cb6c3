package dev.titan.tunnel;

import dev.titan.core.net.TimedDecoder;
import dev.titan.core.net.TcpConnector;
import dev.titan.core.net.Transport;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.flush.FlushConsolidationHandler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import java.util.stream.Collectors;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The private side of the reverse tunnel: holds {@code connections} tunnels to the servers,
 * answers each stream the server opens by connecting to the named local service, and relays.
 * A tunnel that closes is dialled again with exponential back-off (0.5 s doubling to 30 s, with
 * jitter, and never sooner than a refusing server asked).
 */
public final class TunnelClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TunnelClient.class);
    private static final long MAX_BACKOFF_MS = 30_000;
    /** Time between the two GOAWAYs of a drain: several round trips on any sane network. */
    private static final long GOAWAY_GRACE_MILLIS = 500;

    private final TunnelClientConfig config;
    private final Transport transport;
    private final TcpConnector connector;
    private final TcpConnector tunnelConnector;
    private final Map<String, TunnelClientConfig.LocalService> services;
    private final List<Server> servers;
    private final TunnelClientConfig.Tls tls;
    private final Slot[] slots;
    /** Streams open in any of this client's tunnels. */
    private final Set<Channel> streams = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connected = new AtomicInteger();
    private final AtomicInteger pendingOpens = new AtomicInteger();
    private final ClientMeters meters = new ClientMeters();
    private final LocalOpen.Shared localOpens;
    private volatile long rttNanos = -1;
    private volatile boolean closed;

    public TunnelClient(TunnelClientConfig config, Transport transport) {
        this(config, transport, null);
    }

    /**
     * A client whose streams go where {@code targets} says (an overlay edge's egress) instead of to
     * its published services; null: its services.
     */
    public TunnelClient(TunnelClientConfig config, Transport transport, StreamTargets targets) {
        this.config = config;
        this.transport = transport;
        this.connector = new TcpConnector(transport, true, true);
        this.tunnelConnector = connector.withKernelRtt(); // the tunnel's window reads its kernel round trip
        this.services = config.services().stream()
                .collect(Collectors.toUnmodifiableMap(TunnelClientConfig.LocalService::name, Function.identity()));
        this.servers = servers(config.servers());
        this.tls = config.tls() != null || config.servers().stream().noneMatch(TunnelEndpoint::secure) ? config.tls() : defaultTls();
        this.localOpens = new LocalOpen.Shared(targets == null ? StreamTargets.services(services) : targets, connector, pendingOpens, config.settings().maxPendingOpens(), config.dialTimeout(),
                config.idleTimeout(), meters);
        this.slots = new Slot[config.connections()];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = new Slot(i);
        }
    }

    private static TunnelClientConfig.Tls defaultTls() {
        try {
            return TunnelClientConfig.Tls.of(null, null);
        } catch (SSLException e) {
            throw new IllegalStateException("cannot set up TLS with the JDK's trusted CAs: " + e.getMessage(), e);
        }
    }

    public void start() {
        for (Slot s : slots) {
            s.dial();
        }
    }

    /**
     * Completes once a tunnel is up, or after {@code max}, or when the client closes: a reload
     * starts the replacing client and drains the old one only then, so that no stream is lost.
     */
    public CompletableFuture<Void> firstTunnel(Duration max) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        long end = System.nanoTime() + max.toNanos();
        io.netty.channel.EventLoop loop = transport.group().next();
        Runnable check = new Runnable() {
            @Override
            public void run() {
                if (connected.get() > 0 || closed || System.nanoTime() >= end) {
                    done.complete(null);
                } else {
                    loop.schedule(this, 20, TimeUnit.MILLISECONDS);
                }
            }
        };
        loop.execute(check);
        return done;
    }

    /** Streams the servers opened to this client so far that reached their target. */
    public long streamsServed() {
        return meters.streams.sum();
    }

    /** Tunnels currently connected and authenticated. */
    public int connectedTunnels() {
        return connected.get();
    }

    /** Streams open now in this client's tunnels (each a user connection to one of its services). */
    public int activeStreams() {
        return streams.size();
    }

    /**
     * Tunnels connected, streams served, bytes each way and the last PING round trip, labelled with
     * this client's id; returns the meters so that a replaced client's can be removed.
     */
    public List<Meter> bindMetrics(MeterRegistry registry) {
        String id = config.id();
        return List.of(Gauge.builder("titan_tunnel_client_connected", connected, AtomicInteger::get).tag("client", id)
                        .description("Tunnels this client holds open").register(registry),
                Gauge.builder("titan_tunnel_client_streams_active", this, TunnelClient::activeStreams).tag("client", id)
                        .description("Streams open in this client's tunnels").register(registry),
                FunctionCounter.builder("titan_tunnel_client_streams", meters.streams, LongAdder::sum).tag("client", id)
                        .description("Streams the server opened to this client's services").register(registry),
                FunctionCounter.builder("titan_tunnel_client_bytes", meters.bytesToClient, LongAdder::sum).tags("client", id, "direction", "to_service")
                        .baseUnit("bytes").register(registry),
                FunctionCounter.builder("titan_tunnel_client_bytes", meters.bytesFromClient, LongAdder::sum)
                        .tags("client", id, "direction", "from_service").baseUnit("bytes").register(registry),
                Gauge.builder("titan_tunnel_client_rtt_seconds", () -> rttNanos / 1e9).tag("client", id)
                        .description("The last PING round trip of a tunnel (-1: none yet)").register(registry));
    }

    /**
     * Stops redialling and ends every tunnel gracefully: a GOAWAY first, so the server opens no new
     * stream on it (it uses other tunnels of this id), then the tunnel closes once its last stream
     * has ended, or after {@code timeout}. Used on reload: the new client's tunnels come up first.
     */
    public CompletableFuture<Void> drain(Duration timeout) {
        closed = true;
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (Slot s : slots) {
            Channel ch = s.channel;
            if (ch == null || !ch.isOpen()) {
                continue;
            }
            MuxSession mux = ch.pipeline().get(MuxSession.class);
            CompletableFuture<Void> done = new CompletableFuture<>();
            ch.closeFuture().addListener(f -> done.complete(null));
            all.add(done);
            if (mux == null) {
                ch.close();
                continue;
            }
            // in two steps: the GOAWAY first, on which the server stops choosing this tunnel, while the
            // streams it may already have sent are still taken, so none of them is refused; after a
            // moment no new stream is taken, and the tunnel closes once those still open have ended
            ch.eventLoop().execute(mux::goAway);
            ch.eventLoop().schedule(() -> mux.close(timeout.toMillis()), GOAWAY_GRACE_MILLIS, TimeUnit.MILLISECONDS);
        }
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
    }

    /**
     * Drops every tunnel the way a crash would: no GOAWAY, the sockets reset, no redial. For
     * failover tests; a running client leaves with {@link #drain} or {@link #close}.
     */
    void abort() {
        closed = true;
        for (Slot s : slots) {
            Channel ch = s.channel;
            if (ch != null && ch.isOpen()) {
                ch.eventLoop().execute(() -> {
                    ch.config().setOption(ChannelOption.SO_LINGER, 0);
                    ch.unsafe().close(ch.voidPromise()); // past the stream layer, which would say GOAWAY first
                });
            }
        }
    }

    /**
     * Closes every tunnel now (GOAWAY, then the connection, without waiting for open streams) and
     * every stream with it; see {@link #drain} for the graceful way.
     */
    @Override
    public void close() {
        closed = true;
        for (Slot s : slots) {
            Channel ch = s.channel;
            if (ch != null && ch.isOpen()) {
                MuxSession mux = ch.pipeline().get(MuxSession.class);
                if (mux != null) {
                    ch.eventLoop().execute(() -> mux.close(0));
                }
                ch.close().syncUninterruptibly();
            }
        }
        MuxStream.closeAll(streams); // those paused with bytes queued would otherwise wait for their relay
    }

    /**
     * A tunnel server and the ways to reach it (the configured endpoints with its host name), with
     * the way that last worked: every tunnel to this server tries that one first.
     */
    private static final class Server {
        final List<TunnelEndpoint> ways;
        volatile int preferred;

        Server(List<TunnelEndpoint> ways) {
            this.ways = ways;
        }
    }

    private static List<Server> servers(List<TunnelEndpoint> endpoints) {
        Map<String, List<TunnelEndpoint>> byHost = new LinkedHashMap<>();
        for (TunnelEndpoint e : endpoints) {
            byHost.computeIfAbsent(e.host().toLowerCase(Locale.ROOT), h -> new ArrayList<>()).add(e);
        }
        return byHost.values().stream().map(ways -> new Server(List.copyOf(ways))).toList();
    }

    /** One of the tunnels this client holds, and its reconnect state. */
    private final class Slot {
        final int index;
        volatile int failures; // dial and retry run on whichever loop the last attempt used
        int server;
        int way;
        int waysTried;
        boolean established; // the last dial's tunnel came up: redial the same way first
        volatile Channel channel;
        long notBeforeMs;

        Slot(int index) {
            this.index = index;
            this.server = index % servers.size();
            this.way = servers.get(server).preferred;
        }

        void dial() {
            if (closed) {
                return;
            }
            TunnelEndpoint endpoint = servers.get(server).ways.get(way);
            ChannelFuture f = tunnelConnector.connect(endpoint.address(), transport.group().next(), config.dialTimeout());
            f.addListener(done -> {
                if (!done.isSuccess()) {
                    log.debug("tunnel {}: cannot reach {}: {}", index, endpoint, done.cause().toString());
                    retry();
                    return;
                }
                Channel ch = f.channel();
                channel = ch;
                if (closed) {
                    ch.close();
                    return;
                }
                // the connector's channels half-close for relays; a tunnel whose server has hung up is simply over
                ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false);
                ChannelPipeline p = ch.pipeline();
                if (endpoint.secure()) {
                    String name = tls.serverName() != null ? tls.serverName() : endpoint.host();
                    p.addLast("tls", tls.context().newHandler(ch.alloc(), name, endpoint.address().getPort()));
                }
                Runnable hello = () -> {
                    if (p.get("ws-errors") != null) {
                        p.remove("ws-errors");
                    }
                    p.addLast("handshake", new ClientHandshake(this, endpoint));
                    ByteBuf magic = ch.alloc().buffer(TunnelProtocol.MAGIC.length + 1);
                    magic.writeBytes(TunnelProtocol.MAGIC).writeByte(TunnelProtocol.VERSION);
                    ch.writeAndFlush(magic);
                };
                if (endpoint.websocket()) {
                    p.addLast("ws-upgrade", new WebSockets.ClientUpgrade(endpoint.hostHeader(), endpoint.path(),
                            config.settings().handshakeTimeout(), WebSockets.maxFrame(config.settings()), hello));
                    p.addLast("ws-errors", new DialErrors(this, endpoint));
                } else {
                    hello.run();
                }
                ch.config().setAutoRead(true);
                ch.closeFuture().addListener(c -> retry());
            });
        }

        void up(TunnelEndpoint endpoint) {
            Channel ch = channel;
            connected.incrementAndGet();
            ch.closeFuture().addListener(c -> connected.decrementAndGet());
            Server s = servers.get(server);
            if (s.ways.size() > 1 && s.preferred != way) {
                log.info("tunnel {}: {} works; the tunnels to this server use it from now on", index, endpoint);
                s.preferred = way;
            }
            waysTried = 0;
            established = true;
            // the back-off starts over only once a tunnel has stayed up: one that is accepted and then
            // dropped at once (a server in trouble) must not be redialled twice a second forever
            ch.eventLoop().schedule(() -> {
                if (ch.isActive()) {
                    failures = 0;
                }
            }, 10, TimeUnit.SECONDS);
        }

        void retry() {
            if (closed) {
                return;
            }
            // the next way to this server, the one that worked first; once every way has failed, the next server
            Server s = servers.get(server);
            if (established) {
                established = false; // a tunnel that was up dropped: its way worked, try it again first
            } else if (++waysTried < s.ways.size()) {
                way = (way + 1) % s.ways.size();
            } else {
                waysTried = 0;
                server = (server + 1) % servers.size();
                way = servers.get(server).preferred;
            }
            long base = Math.min(MAX_BACKOFF_MS, 500L << Math.min(6, failures));
            failures++;
            long delay = Math.max(notBeforeMs, base / 2 + ThreadLocalRandom.current().nextLong(base / 2 + 1));
            notBeforeMs = 0;
            log.debug("tunnel {}: reconnecting in {} ms", index, delay);
            transport.group().next().schedule(this::dial, delay, TimeUnit.MILLISECONDS);
        }
    }

    /** Logs why a connection failed before its tunnel handshake began (TLS, WebSocket upgrade) and closes it. */
    private static final class DialErrors extends ChannelInboundHandlerAdapter {
        private final Slot slot;
        private final TunnelEndpoint endpoint;

        DialErrors(Slot slot, TunnelEndpoint endpoint) {
            this.slot = slot;
            this.endpoint = endpoint;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.warn("tunnel {}: {} failed: {}", slot.index, endpoint, rootMessage(cause));
            ctx.close();
        }
    }

    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

    /** Answers the challenge and, once accepted, hands the connection to its streams ({@link MuxSession}). */
    private final class ClientHandshake extends TimedDecoder {
        private final Slot slot;
        private final TunnelEndpoint endpoint;
        private boolean sentAuth;

        ClientHandshake(Slot slot, TunnelEndpoint endpoint) {
            super(config.settings().handshakeTimeout());
            this.slot = slot;
            this.endpoint = endpoint;
        }

        @Override
        protected void timedOut(ChannelHandlerContext ctx) {
            log.warn("tunnel {}: handshake with {} timed out", slot.index, ctx.channel().remoteAddress());
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            if (!sentAuth) {
                TunnelProtocol.Challenge c = TunnelProtocol.decode(in, TunnelProtocol.Challenge.class);
                if (c == null) {
                    return;
                }
                if (c.nonce() == null || c.nonce().length() < 16) {
                    throw new TunnelProtocol.HandshakeException("server sent no usable nonce");
                }
                TunnelSettings s = config.settings();
                TunnelProtocol.Auth auth = new TunnelProtocol.Auth(TunnelProtocol.VERSION, config.id(),
                        TunnelProtocol.proof(config.secret(), c.nonce(), config.id()), config.labels(),
                        config.services().stream().map(TunnelClientConfig.LocalService::published).toList(),
                        s.streamWindow(), s.initialConnectionWindow());
                ctx.writeAndFlush(TunnelProtocol.encode(ctx.alloc(), auth));
                sentAuth = true;
            }
            TunnelProtocol.Result r = TunnelProtocol.decode(in, TunnelProtocol.Result.class);
            if (r == null) {
                return;
            }
            if (!r.ok()) {
                log.warn("tunnel {}: {} refused the tunnel: {}", slot.index, ctx.channel().remoteAddress(), r.reason());
                slot.notBeforeMs = r.retryAfterMs() == null ? 0 : Math.min(MAX_BACKOFF_MS, r.retryAfterMs());
                ctx.close();
                return;
            }
            startMux(ctx.pipeline(), TunnelProtocol.windows(r.streamWindow(), r.connectionWindow()));
            ctx.pipeline().remove(this);
            slot.up(endpoint);
            log.info("tunnel {} to {} up", slot.index, ctx.channel().remoteAddress());
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.warn("tunnel {}: handshake with {} failed: {}", slot.index, ctx.channel().remoteAddress(), cause.getMessage());
            ctx.close();
        }
    }

    private void startMux(ChannelPipeline p, MuxSession.Windows servers) {
        TunnelSettings s = config.settings();
        p.addLast("flush", new FlushConsolidationHandler(TunnelServer.FLUSHES_PER_WRITE, true)); // above TLS: fewer, larger records
        TunnelSettings.reads(p.channel());
        p.addLast("mux", new MuxSession(s.mux(servers, rtt -> rttNanos = rtt, () -> { }, acceptor, streams)));
        p.addLast("errors", new TunnelServer.TunnelErrors());
    }

    /** What every stream the server opens starts with: the handler that reads its OPEN and connects. */
    private final ChannelHandler acceptor = new ChannelInitializer<Channel>() {
        @Override
        protected void initChannel(Channel ch) {
            ch.pipeline().addLast("open", new LocalOpen(localOpens));
        }
    };
}
