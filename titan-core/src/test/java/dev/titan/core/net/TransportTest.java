package dev.titan.core.net;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.ServerSocketChannel;
import java.net.InetSocketAddress;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TransportTest {

    /**
     * What a relay or a tunnel stream does when the process stops: a channel that one loop closes
     * asks another loop to close its partner (a stream, which no selector holds). That loop must
     * still run the request, or what the partner holds is never released; when all loops were
     * stopped at once, one that had already ended refused it (RejectedExecutionException).
     */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aCloseThatCrossesLoopsDuringShutdownStillRuns(Transport.Kind kind) throws Exception {
        if (unavailable(kind)) {
            return;
        }
        Transport transport = Transport.create(kind, 2);
        Iterator<io.netty.util.concurrent.EventExecutor> loops = transport.group().iterator();
        EventLoop first = (EventLoop) loops.next();
        EventLoop second = (EventLoop) loops.next();
        Channel server = transport.serverBootstrap().childHandler(new ChannelInboundHandlerAdapter())
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
        Channel socket = transport.newSocketChannel(new InetSocketAddress("127.0.0.1", 0), false);
        socket.pipeline().addLast(new ChannelInboundHandlerAdapter());
        second.register(socket).syncUninterruptibly();
        socket.connect(((ServerSocketChannel) server).localAddress()).syncUninterruptibly();

        AtomicBoolean partnerClosed = new AtomicBoolean();
        CompletableFuture<Throwable> refused = new CompletableFuture<>();
        socket.closeFuture().addListener(f -> {
            try {
                first.execute(() -> partnerClosed.set(true));
                refused.complete(null);
            } catch (RuntimeException e) {
                refused.complete(e);
            }
        });
        // the socket's loop is busy for a moment when the stop begins, as a loaded one would be,
        // so the first loop has nothing left to do by the time the socket is closed
        second.execute(() -> sleep(20));
        transport.close();

        assertThat(refused.get(5, TimeUnit.SECONDS)).as("the other loop took the close").isNull();
        assertThat(partnerClosed).as("and ran it").isTrue();
    }

    /**
     * A relay listener's flags reach every accepted connection (set once on the listening socket
     * where the kernel copies them, as read back from the accepted socket), and a listener for
     * clients that speak first hands a connection over only once its first bytes arrived, on the
     * transports that offer TCP_DEFER_ACCEPT (epoll and io_uring).
     */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void acceptedConnectionsTakeTheListenersFlagsAndADeferringListenerWaitsForTheFirstBytes(Transport.Kind kind) throws Exception {
        if (unavailable(kind)) {
            return;
        }
        Transport transport = Transport.create(kind, 1);
        try {
            for (boolean noDelay : new boolean[] {true, false}) {
                java.util.concurrent.BlockingQueue<Channel> accepted = new java.util.concurrent.LinkedBlockingQueue<>();
                Channel server = collecting(transport.listenerBootstrap(noDelay, true, true), accepted)
                        .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
                try (java.net.Socket client = new java.net.Socket()) {
                    client.connect(server.localAddress(), 2_000);
                    if (kind != Transport.Kind.NIO) {
                        assertThat(accepted.poll(300, TimeUnit.MILLISECONDS)).as("a silent client is not handed over yet").isNull();
                    }
                    client.getOutputStream().write('x');
                    Channel ch = accepted.poll(5, TimeUnit.SECONDS);
                    assertThat(ch).as("handed over with its first bytes").isNotNull();
                    assertThat(kernelFlag(ch, java.net.StandardSocketOptions.SO_KEEPALIVE)).as("SO_KEEPALIVE of the accepted socket").isTrue();
                    assertThat(kernelFlag(ch, java.net.StandardSocketOptions.TCP_NODELAY)).as("TCP_NODELAY of the accepted socket").isEqualTo(noDelay);
                    assertThat(ch.remoteAddress()).isEqualTo(client.getLocalSocketAddress());
                    ch.close().syncUninterruptibly();
                } finally {
                    server.close().syncUninterruptibly();
                }
            }
        } finally {
            transport.close();
        }
    }

    /** The kernel's value of {@code option} on {@code ch}'s socket (NIO: as its config reads it, from the socket too). */
    private static boolean kernelFlag(Channel ch, java.net.SocketOption<Boolean> option) throws java.io.IOException {
        if (ch instanceof io.netty.channel.unix.UnixChannel u && u.fd() instanceof io.netty.channel.unix.Socket s) {
            return option == java.net.StandardSocketOptions.SO_KEEPALIVE ? s.isKeepAlive() : s.isTcpNoDelay();
        }
        io.netty.channel.socket.SocketChannelConfig c = ((io.netty.channel.socket.SocketChannel) ch).config();
        return option == java.net.StandardSocketOptions.SO_KEEPALIVE ? c.isKeepAlive() : c.isTcpNoDelay();
    }

    /**
     * The kernel's round trip of a connection (which sizes a tunnel's window), on the transports
     * that tell it; -1 where it is not known: NIO, or a connection that has gone.
     */
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void theKernelsRoundTripOfAConnectionIsKnownOnTheNativeTransports(Transport.Kind kind) throws Exception {
        if (unavailable(kind)) {
            return;
        }
        Transport transport = Transport.create(kind, 1);
        try {
            java.util.concurrent.BlockingQueue<Channel> accepted = new java.util.concurrent.LinkedBlockingQueue<>();
            Channel server = collecting(transport, accepted).bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
            try (java.net.Socket client = new java.net.Socket()) {
                client.connect(((ServerSocketChannel) server).localAddress(), 2_000);
                Channel ch = accepted.poll(5, TimeUnit.SECONDS);
                assertThat(ch).isNotNull();
                long rtt = Transport.tcpRttNanos(ch);
                if (kind == Transport.Kind.NIO) {
                    assertThat(rtt).isEqualTo(-1);
                } else {
                    assertThat(rtt).as("the handshake's round trip on loopback").isBetween(1L, 1_000_000_000L);
                }
                ch.close().syncUninterruptibly();
                assertThat(Transport.tcpRttNanos(ch)).as("once closed").isEqualTo(-1);
            } finally {
                server.close().syncUninterruptibly();
            }
        } finally {
            transport.close();
        }
    }

    /** A server bootstrap of {@code transport} that adds every connection it accepts to {@code accepted}. */
    private static ServerBootstrap collecting(Transport transport, java.util.concurrent.BlockingQueue<Channel> accepted) {
        return collecting(transport.serverBootstrap(), accepted);
    }

    private static ServerBootstrap collecting(ServerBootstrap b, java.util.concurrent.BlockingQueue<Channel> accepted) {
        return b.childHandler(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(io.netty.channel.ChannelHandlerContext ctx) {
                accepted.add(ctx.channel());
            }
        });
    }

    private static boolean unavailable(Transport.Kind kind) {
        return kind == Transport.Kind.EPOLL && !io.netty.channel.epoll.Epoll.isAvailable()
                || kind == Transport.Kind.IO_URING && !io.netty.channel.uring.IoUring.isAvailable();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
