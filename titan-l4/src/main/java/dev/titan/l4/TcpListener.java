package dev.titan.l4;

import dev.titan.core.ingress.Forwarder;
import dev.titan.core.ingress.IngressFactory;
import dev.titan.core.config.HostPort;
import dev.titan.core.config.ListenerConfig;
import dev.titan.core.engine.ListenerHandle;
import dev.titan.core.limit.ConnectionLimits;
import dev.titan.core.metrics.TitanMetrics;
import dev.titan.core.net.RelayOptions;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
import dev.titan.core.net.EarlyInput;
import dev.titan.core.net.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A TCP listener that forwards every accepted connection to an endpoint of the cluster its routes
 * choose: accept, check limits, read what the listener's ingress needs (nothing for raw TCP, the
 * ClientHello for {@code sni}, the request head for {@code http}), route, connect through the
 * cluster (pool, balancer, retries), then relay both ways ({@link Forwarder}). A raw TCP
 * connection is not read before its upstream is connected, so early client bytes wait in the
 * kernel, not in memory (unless the client has already sent its FIN: see {@link EarlyInput}).
 */
public final class TcpListener implements ListenerHandle {
    private static final Logger log = LoggerFactory.getLogger(TcpListener.class);

    private final Transport transport;
    private final TitanMetrics.ListenerMeters meters;
    private volatile ListenerConfig config;
    private volatile Router router;
    private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final AtomicInteger active = new AtomicInteger();
    private final ConnectionLimits<InetAddress> perIp = new ConnectionLimits<>();
    private final Accept accept = new Accept();
    private final Forwarder forwarder;
    private final IngressFactory ingresses;
    private Channel server;

    public TcpListener(ListenerConfig config, Router router, Transport transport, TitanMetrics.ListenerMeters meters) {
        this(config, router, transport, meters, IngressFactory.BUILT_IN);
    }

    /** A listener whose connections are read by {@code ingresses}' handlers (a module's own protocol). */
    public TcpListener(ListenerConfig config, Router router, Transport transport, TitanMetrics.ListenerMeters meters,
                       IngressFactory ingresses) {
        this.ingresses = ingresses;
        this.config = config;
        this.router = router;
        this.transport = transport;
        this.meters = meters;
        this.forwarder = new Forwarder(() -> this.router, meters, () -> this.config.idleTimeout());
    }

    @Override
    public void start() {
        ListenerConfig c = config;
        ServerBootstrap b = RelayOptions.acceptedChildren(transport.listenerBootstrap(c.tcpNoDelay(), c.tcpKeepAlive(),
                        ingresses.clientSpeaksFirst(c)))
                .option(ChannelOption.SO_BACKLOG, c.backlog())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("accept", accept);
                    }
                });
        if (c.reusePort()) {
            switch (transport.kind()) {
                case EPOLL -> b.option(EpollChannelOption.SO_REUSEPORT, true);
                case IO_URING -> b.option(IoUringChannelOption.SO_REUSEPORT, true);
                case NIO -> { } // not offered by the JDK's channels
            }
        }
        try {
            server = b.bind(c.listenAddr()).syncUninterruptibly().channel();
        } catch (Exception e) {
            throw new IllegalStateException("listener " + c.name() + ": cannot listen on " + HostPort.format(c.listenAddr()) + ": "
                    + e.getMessage(), e);
        }
        log.info("listener {} (tcp) on {} -> cluster {}", c.name(), HostPort.format(boundAddress()), c.clusterSummary());
    }

    @Override
    public InetSocketAddress boundAddress() {
        return server == null ? config.listenAddr() : (InetSocketAddress) server.localAddress();
    }

    @Override
    public boolean canUpdateInPlace(ListenerConfig next) {
        ListenerConfig c = config;
        return next.protocol().equals(c.protocol()) && sameAddress(next) && next.backlog() == c.backlog()
                && next.reusePort() == c.reusePort();
    }

    @Override
    public void update(ListenerConfig next, Router router) {
        this.config = next;
        this.router = router;
    }

    @Override
    public void stopAccepting() {
        if (server != null) {
            server.close().syncUninterruptibly();
        }
    }

    @Override
    public CompletableFuture<Void> drain(Duration timeout) {
        return ListenerHandle.drainUntilIdle(GlobalEventExecutor.INSTANCE, timeout, connections::isEmpty, done -> {
            if (connections.isEmpty()) {
                done.complete(null);
                return;
            }
            log.info("listener {}: closing {} connections still open after drain timeout", config.name(), connections.size());
            connections.close().addListener(f -> done.complete(null));
        });
    }

    @Override
    public int activeConnections() {
        return active.get();
    }

    @Override
    public ListenerConfig config() {
        return config;
    }

    /** Admits a client (limits), routes it as its listener's ingress reads it, and forwards it. One instance serves every connection. */
    @ChannelHandler.Sharable
    private final class Accept extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            Channel client = ctx.channel();
            ListenerConfig c = config;
            meters.newConnections.increment();
            InetAddress ip = ((InetSocketAddress) client.remoteAddress()).getAddress();
            if (!admit(client, ip, c)) {
                return;
            }
            ChannelPipeline p = ctx.pipeline();
            ChannelHandler ingress = ingresses.create(c, forwarder);
            if (ingress != null) {
                p.replace(this, "ingress", ingress);
                return;
            }
            // raw TCP: nothing to read before routing; what the client sends meanwhile waits in the kernel
            p.replace(this, EarlyInput.NAME, new EarlyInput());
            Router.Route route = forwarder.route(DestinationRequest.tcp(c.name(), client));
            if (route == null) {
                forwarder.error("no_route");
                client.close();
                return;
            }
            forwarder.forward(client, route, (ch, cause) -> ch.close());
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    private boolean admit(Channel client, InetAddress ip, ListenerConfig c) {
        int now = active.incrementAndGet();
        if ((c.maxConnections() > 0 && now > c.maxConnections())
                || (c.maxConnectionsPerIp() > 0 && !perIp.admit(ip, c.maxConnectionsPerIp(), client))) {
            active.decrementAndGet();
            meters.error("limit");
            client.close();
            return false;
        }
        meters.active.incrementAndGet();
        connections.add(client);
        client.closeFuture().addListener(f -> {
            active.decrementAndGet();
            meters.active.decrementAndGet();
        });
        return true;
    }
}
