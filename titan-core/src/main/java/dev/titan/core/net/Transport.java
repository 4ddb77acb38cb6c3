package dev.titan.core.net;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoOps;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.ServerChannel;
import io.netty.channel.ServerChannelRecvByteBufAllocator;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringDatagramChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ThreadAwareExecutor;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.nio.channels.spi.SelectorProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The I/O transport of a Titan process: one event-loop group (one loop per core by default) and the
 * channel classes that go with it. io_uring or epoll on Linux unless told otherwise, NIO elsewhere.
 */
public final class Transport implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Transport.class);

    /** Which implementation to use. */
    public enum Kind { EPOLL, NIO, IO_URING }

    private final Kind kind;
    private final EventLoopGroup group;
    /** Each loop's I/O handler, for {@link #close}. */
    private final List<LoopHandler> handlers = new CopyOnWriteArrayList<>();

    private record LoopHandler(ThreadAwareExecutor loop, LoopIoHandler handler) {
    }

    private Transport(Kind kind, int threads) {
        this.kind = kind;
        IoHandlerFactory base = switch (kind) {
            case EPOLL -> EpollIoHandler.newFactory();
            case IO_URING -> IoUringIoHandler.newFactory();
            case NIO -> NioIoHandler.newFactory();
        };
        UnaryOperator<IoOps> interest = kind == Kind.EPOLL ? KeepEpollRegistration::interest : UnaryOperator.identity();
        IoHandlerFactory factory = new IoHandlerFactory() {
            @Override
            public IoHandler newHandler(ThreadAwareExecutor loop) {
                LoopIoHandler handler = new LoopIoHandler(base.newHandler(loop), interest);
                handlers.add(new LoopHandler(loop, handler));
                return handler;
            }

            @Override
            public boolean isChangingThreadSupported() {
                return base.isChangingThreadSupported();
            }
        };
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        this.group = new MultiThreadIoEventLoopGroup(n, new DefaultThreadFactory("titan-" + kind.name().toLowerCase(Locale.ROOT), true),
                factory);
    }

    /**
     * {@code type} is auto, io_uring, epoll or nio; {@code threads} 0 means one per core. auto takes
     * io_uring where the kernel offers it (Linux 5.x with io_uring not disabled by sysctl or a
     * seccomp profile), else epoll, else NIO: io_uring submits a loop turn's reads, writes,
     * accepts and closes in one system call, which halved the forwarder's CPU per new connection
     * against epoll (docs/benchmarks.md).
     */
    public static Transport create(String type, int threads) {
        Kind kind = kindFor(type);
        log.debug("transport {} with {} threads", kind, threads);
        return new Transport(kind, threads);
    }

    /** The kind {@code type} names on this machine (auto resolved as {@link #create(String, int)} says); fails if unavailable. */
    public static Kind kindFor(String type) {
        return switch (type) {
            case "nio" -> Kind.NIO;
            case "io_uring" -> {
                if (!IoUring.isAvailable()) {
                    throw new IllegalStateException("transport.type is io_uring but io_uring is unavailable: " + IoUring.unavailabilityCause());
                }
                yield Kind.IO_URING;
            }
            case "epoll" -> {
                if (!Epoll.isAvailable()) {
                    throw new IllegalStateException("transport.type is epoll but epoll is unavailable: " + Epoll.unavailabilityCause());
                }
                yield Kind.EPOLL;
            }
            default -> IoUring.isAvailable() ? Kind.IO_URING : Epoll.isAvailable() ? Kind.EPOLL : Kind.NIO;
        };
    }

    public static Transport create(Kind kind, int threads) {
        return create(kind.name().toLowerCase(Locale.ROOT), threads);
    }

    public Kind kind() {
        return kind;
    }

    public EventLoopGroup group() {
        return group;
    }

    /**
     * A new unregistered TCP channel whose socket has the family of {@code target}: an IPv4 socket
     * for an IPv4 address (Netty's default is a dual-stack IPv6 socket, which costs more per connect).
     * On io_uring it is Titan's {@link UringTcpChannel}, which makes three system calls fewer per
     * connection than Netty's and arms no polls, unless {@code kernelRtt}: then Netty's, whose
     * TCP_INFO gives {@link #tcpRttNanos} (a tunnel's connection wants it; a relayed one does not),
     * on a dual-stack socket (Netty's io_uring channel takes no family).
     */
    public DuplexChannel newSocketChannel(InetSocketAddress target, boolean kernelRtt) {
        SocketProtocolFamily family = target.getAddress() instanceof Inet6Address ? SocketProtocolFamily.INET6 : SocketProtocolFamily.INET;
        return switch (kind) {
            case EPOLL -> new EpollSocketChannel(family);
            case IO_URING -> kernelRtt || target.isUnresolved() ? new IoUringSocketChannel() : new UringTcpChannel(target);
            case NIO -> new NioSocketChannel(SelectorProvider.provider(), family);
        };
    }

    /**
     * Shuts down the output of {@code ch} (sends its FIN) once nothing is waiting to be written on
     * it. On the native transports this is the socket's own shutdown: Netty's
     * {@link DuplexChannel#shutdownOutput()} builds an exception with a stack trace on every call
     * (for writes that might still be queued), which cost 1.5% of the CPU of a new connection
     * through the overlay. The channel's view stays right: it reads the socket's shutdown state.
     */
    public static void shutdownOutput(DuplexChannel ch) {
        if (ch instanceof UnixChannel unix && unix.fd() instanceof Socket socket) {
            try {
                socket.shutdown(false, true);
            } catch (IOException e) {
                log.debug("shutting down the output of {} failed", ch, e);
                ch.close();
            }
        } else {
            ch.shutdownOutput();
        }
    }

    /**
     * The kernel's smoothed round trip of TCP connection {@code ch}, in nanoseconds: what the network
     * between the two sockets takes, without the time either side's application takes to read. -1
     * where the transport does not tell (NIO) or the connection has gone.
     */
    public static long tcpRttNanos(Channel ch) {
        try {
            if (ch instanceof IoUringSocketChannel u) {
                return u.tcpInfo().rtt() * 1_000;
            }
            if (ch instanceof EpollSocketChannel e) {
                return e.tcpInfo().rtt() * 1_000;
            }
        } catch (RuntimeException e) { // closed meanwhile
            log.debug("no TCP_INFO for {}", ch, e);
        }
        return -1;
    }

    /**
     * A server bootstrap on this transport's loops that accepts every pending connection in one go
     * (up to {@value #ACCEPTS_PER_WAKEUP}): Netty's default stops after one accept per loop
     * iteration on epoll, so under load a burst of new connections waited behind all other I/O
     * (measured: 100 connections took 130 ms to reach their upstream with wrk -c100 running).
     */
    public ServerBootstrap serverBootstrap() {
        return new ServerBootstrap()
                .group(group)
                .channel(serverChannel())
                .option(ChannelOption.RCVBUF_ALLOCATOR, acceptAllocator())
                .option(ChannelOption.SO_REUSEADDR, true);
    }

    /**
     * A server bootstrap for a listener whose connections are relayed: on io_uring Titan's {@link
     * UringTcpServerChannel} (its connections are {@link UringTcpChannel}s, with three system calls
     * fewer each than Netty's), elsewhere {@link #serverBootstrap}'s. The connections' TCP_NODELAY
     * and SO_KEEPALIVE are set once on the listening socket where the transport allows, as Linux
     * copies a listener's flags to each connection it accepts (Netty sets them on each accepted
     * socket: a system call per connection each). {@code deferAccept}: for listeners whose clients
     * speak first, the kernel hands over a connection only once its first bytes have arrived
     * (TCP_DEFER_ACCEPT, as HAProxy's {@code defer-accept} and nginx's {@code deferred}), so that the
     * accept and the first read come in one wake-up instead of two; a client that sends nothing is
     * handed over after about a second anyway, and its listener's timeouts then apply. Not offered
     * by NIO.
     */
    public ServerBootstrap listenerBootstrap(boolean noDelay, boolean keepAlive, boolean deferAccept) {
        if (kind == Kind.IO_URING) {
            ServerBootstrap b = new ServerBootstrap()
                    .group(group)
                    .channelFactory(UringTcpServerChannel::new)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .option(ChannelOption.TCP_NODELAY, noDelay)
                    .option(ChannelOption.SO_KEEPALIVE, keepAlive);
            return deferAccept ? b.option(IoUringChannelOption.TCP_DEFER_ACCEPT, 1) : b;
        }
        ServerBootstrap b = serverBootstrap();
        if (!noDelay) {
            b.childOption(ChannelOption.TCP_NODELAY, false); // Netty turns it on for every channel
        }
        if (keepAlive) {
            keepAliveAccepted(b);
        }
        if (deferAccept && kind == Kind.EPOLL) {
            b.option(EpollChannelOption.TCP_DEFER_ACCEPT, 1);
        }
        return b;
    }

    /**
     * SO_KEEPALIVE for every connection {@code b} accepts: on epoll set once on the listening
     * socket; NIO's listening channel takes no SO_KEEPALIVE, so there it stays a child option.
     */
    private void keepAliveAccepted(ServerBootstrap b) {
        if (kind == Kind.NIO) {
            b.childOption(ChannelOption.SO_KEEPALIVE, true);
            return;
        }
        b.handler(new ChannelInitializer<ServerChannel>() { // runs when registered: before the bind, before any accept
            @Override
            protected void initChannel(ServerChannel ch) throws IOException {
                ((Socket) ((UnixChannel) ch).fd()).setKeepAlive(true);
            }
        });
    }

    static final int ACCEPTS_PER_WAKEUP = 64;

    private static RecvByteBufAllocator acceptAllocator() {
        ServerChannelRecvByteBufAllocator a = new ServerChannelRecvByteBufAllocator();
        a.respectMaybeMoreData(false);
        a.maxMessagesPerRead(ACCEPTS_PER_WAKEUP);
        return a;
    }

    public Class<? extends Channel> socketChannel() {
        return switch (kind) {
            case EPOLL -> EpollSocketChannel.class;
            case IO_URING -> IoUringSocketChannel.class;
            case NIO -> NioSocketChannel.class;
        };
    }

    public Class<? extends ServerChannel> serverChannel() {
        return switch (kind) {
            case EPOLL -> EpollServerSocketChannel.class;
            case IO_URING -> IoUringServerSocketChannel.class;
            case NIO -> NioServerSocketChannel.class;
        };
    }

    public Class<? extends DatagramChannel> datagramChannel() {
        return switch (kind) {
            case EPOLL -> EpollDatagramChannel.class;
            case IO_URING -> IoUringDatagramChannel.class;
            case NIO -> NioDatagramChannel.class;
        };
    }

    /**
     * Stops the event loops, waiting at most 5 s: a stop must never hang the process (the loop
     * threads are daemons). First every loop closes its channels while all loops still run, and
     * the closes that this sets off on other loops are let through: a relay whose two sides live on
     * different loops closes the other side, a socket that closes ends its tunnel stream on the
     * tunnel's loop, and that stream (which no selector holds, so no loop closes it by itself)
     * releases the frames queued in it. Stopping the loops at once instead let a loop that had
     * already ended refuse such a close, and what the channel held was never released. Then the
     * loops stop.
     */
    @Override
    public void close() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        onEveryLoop(LoopIoHandler::closeAll, deadline);
        for (int round = 0; round < SETTLE_ROUNDS; round++) {
            onEveryLoop(handler -> { }, deadline); // runs after the tasks those closes queued on each loop
        }
        if (!group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS)) {
            log.warn("event loops did not terminate within 5 s; exiting without them");
        }
    }

    /** Rounds of every loop running what is queued on it: a close may set off another on a further loop. */
    static final int SETTLE_ROUNDS = 3;

    /** Runs {@code task} with each loop's handler on that loop, and waits until all have run (or {@code deadline}). */
    private void onEveryLoop(Consumer<LoopIoHandler> task, long deadline) {
        List<Future<?>> runs = new ArrayList<>();
        for (LoopHandler h : handlers) {
            if (h.loop() instanceof EventExecutor loop && !loop.isShuttingDown()) {
                try {
                    runs.add(loop.submit(() -> task.accept(h.handler())));
                } catch (RejectedExecutionException e) {
                    // stopping already
                }
            }
        }
        for (Future<?> f : runs) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !f.awaitUninterruptibly(left, TimeUnit.NANOSECONDS)) {
                return;
            }
        }
    }
}
