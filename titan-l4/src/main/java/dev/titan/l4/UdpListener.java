package dev.titan.l4;

import dev.titan.core.balance.Hashing;
import dev.titan.core.cluster.Cluster;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
import io.netty.buffer.Unpooled;
import dev.titan.core.cluster.Endpoint;
import dev.titan.core.config.HostPort;
import dev.titan.core.config.ListenerConfig;
import dev.titan.core.engine.ListenerHandle;
import dev.titan.core.metrics.TitanMetrics;
import dev.titan.core.net.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * UDP forwarding with a session per client address: the first datagram from a client picks an
 * endpoint (the cluster's balancer over its active set) and opens a connected socket to it;
 * replies on that socket go back to the client from the listener's address. A session ends after
 * {@code udp.session_idle_timeout} without traffic either way. All session state lives on the
 * listener's event loop.
 */
public final class UdpListener implements ListenerHandle {
    private static final Logger log = LoggerFactory.getLogger(UdpListener.class);
    /** Datagrams queued per session while its upstream socket is being set up. */
    private static final int MAX_PENDING = 64;

    private final Transport transport;
    private final TitanMetrics.ListenerMeters meters;
    private volatile ListenerConfig config;
    private volatile Router router;
    private Channel server;
    private EventLoop loop;
    private final Map<InetSocketAddress, Session> sessions = new HashMap<>();
    private ScheduledFuture<?> sweeper;
    private volatile int sessionCount;

    public UdpListener(ListenerConfig config, Router router, Transport transport, TitanMetrics.ListenerMeters meters) {
        this.config = config;
        this.router = router;
        this.transport = transport;
        this.meters = meters;
    }

    @Override
    public void start() {
        ListenerConfig c = config;
        loop = transport.group().next();
        try {
            server = new Bootstrap()
                    .group(loop)
                    .channel(transport.datagramChannel())
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .option(ChannelOption.SO_RCVBUF, 4 << 20)
                    .option(ChannelOption.SO_SNDBUF, 4 << 20)
                    .handler(new FromClients())
                    .bind(c.listenAddr()).syncUninterruptibly().channel();
        } catch (Exception e) {
            throw new IllegalStateException("listener " + c.name() + ": cannot listen on udp " + HostPort.format(c.listenAddr()) + ": "
                    + e.getMessage(), e);
        }
        long period = Math.max(10, c.udpSessionIdleTimeout().toMillis() / 4);
        sweeper = loop.scheduleAtFixedRate(this::sweep, period, period, TimeUnit.MILLISECONDS);
        log.info("listener {} (udp) on {} -> cluster {}", c.name(), HostPort.format(boundAddress()), c.clusterSummary());
    }

    @Override
    public InetSocketAddress boundAddress() {
        return server == null ? config.listenAddr() : (InetSocketAddress) server.localAddress();
    }

    @Override
    public boolean canUpdateInPlace(ListenerConfig next) {
        return next.protocol().equals(config.protocol()) && sameAddress(next);
    }

    @Override
    public void update(ListenerConfig next, Router router) {
        this.config = next;
        this.router = router;
    }

    @Override
    public void stopAccepting() {
        // a UDP socket cannot stop accepting and keep its sessions: new clients are refused instead
        if (loop != null) {
            loop.execute(() -> accepting = false);
        }
    }

    private volatile boolean accepting = true;

    @Override
    public CompletableFuture<Void> drain(Duration timeout) {
        if (loop == null) {
            return CompletableFuture.completedFuture(null);
        }
        return ListenerHandle.drainUntilIdle(loop, timeout, sessions::isEmpty, done -> {
            closeAll();
            done.complete(null);
        });
    }

    private void closeAll() {
        if (sweeper != null) {
            sweeper.cancel(false);
        }
        sessions.values().forEach(Session::close);
        sessions.clear();
        sessionCount = 0;
        if (server != null) {
            server.close();
        }
    }

    @Override
    public int activeConnections() {
        return sessionCount;
    }

    @Override
    public ListenerConfig config() {
        return config;
    }

    private void sweep() {
        long idle = config.udpSessionIdleTimeout().toNanos();
        long now = System.nanoTime();
        sessions.values().removeIf(s -> {
            if (now - s.lastActivity >= idle) {
                s.close();
                return true;
            }
            return false;
        });
        sessionCount = sessions.size();
    }

    private final class FromClients extends SimpleChannelInboundHandler<DatagramPacket> {
        FromClients() {
            super(false); // ownership of each packet's content passes to its session
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
            InetSocketAddress client = packet.sender();
            Session s = sessions.get(client);
            if (s == null) {
                ListenerConfig c = config;
                if (!accepting || sessions.size() >= c.udpMaxSessions()) {
                    packet.release();
                    meters.error("limit");
                    return;
                }
                Cluster cl = route(client);
                Endpoint e = cl == null ? null : cl.pick(Hashing.hash(client.getAddress()), null);
                if (e == null || e.address() == null) {
                    packet.release();
                    meters.error("no_endpoint");
                    return;
                }
                s = new Session(client, e);
                sessions.put(client, s);
                sessionCount = sessions.size();
                meters.newConnections.increment();
                meters.active.incrementAndGet();
                s.open();
            }
            meters.bytesUpstream.increment(packet.content().readableBytes());
            s.send(packet.content());
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // an ICMP error or a bad datagram concerns one packet, never the listener
            log.debug("listener {}: {}", config.name(), cause.toString());
        }
    }

    /** The cluster for a new flow from {@code client}, or null when no route takes it. */
    private Cluster route(InetSocketAddress client) {
        Router.Route r = router.route(new DestinationRequest(config.name(), client, boundAddress(), null, null, 0, null, null, null,
                DestinationRequest.UDP, Unpooled.EMPTY_BUFFER));
        return r == null ? null : r.cluster();
    }

    /** One client's flow: a connected socket to its endpoint and the reply path. */
    private final class Session {
        final InetSocketAddress client;
        final Endpoint endpoint;
        Channel upstream;
        ArrayDeque<ByteBuf> pending = new ArrayDeque<>();
        long lastActivity = System.nanoTime();
        final long started = System.nanoTime();
        boolean closed;

        Session(InetSocketAddress client, Endpoint endpoint) {
            this.client = client;
            this.endpoint = endpoint;
        }

        void open() {
            endpoint.connectionOpened();
            ChannelFuture f = new Bootstrap()
                    .group(loop)
                    .channel(transport.datagramChannel())
                    .handler(new SimpleChannelInboundHandler<DatagramPacket>(false) {
                        @Override
                        protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket reply) {
                            lastActivity = System.nanoTime();
                            meters.bytesDownstream.increment(reply.content().readableBytes());
                            server.writeAndFlush(new DatagramPacket(reply.content(), client));
                        }

                        @Override
                        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                            log.debug("udp session {} -> {}: {}", client, endpoint, cause.toString());
                        }
                    })
                    .connect(endpoint.address());
            upstream = f.channel();
            f.addListener(done -> {
                if (!done.isSuccess() || closed) {
                    drop();
                    if (!closed) {
                        sessions.remove(client);
                        close();
                    }
                    return;
                }
                ByteBuf b;
                while ((b = pending.poll()) != null) {
                    upstream.write(b);
                }
                upstream.flush();
                pending = null;
            });
        }

        void send(ByteBuf content) {
            lastActivity = System.nanoTime();
            if (pending != null) {
                if (pending.size() >= MAX_PENDING) {
                    content.release();
                } else {
                    pending.add(content);
                }
                return;
            }
            upstream.writeAndFlush(content);
        }

        private void drop() {
            if (pending != null) {
                pending.forEach(ByteBuf::release);
                pending.clear();
            }
        }

        void close() {
            if (closed) {
                return;
            }
            closed = true;
            drop();
            endpoint.connectionClosed();
            meters.active.decrementAndGet();
            meters.recordDuration(System.nanoTime() - started);
            if (upstream != null) {
                upstream.close();
            }
        }
    }
}
