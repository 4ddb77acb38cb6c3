package dev.titan.core.net;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A half-closed connection on epoll: the client sends its request and FIN at once; the server,
 * which had auto-read off (a proxy waiting for its other side), starts reading later and answers
 * with more than the socket buffers hold. Netty has taken the request and FIN meanwhile (on the
 * hang-up event), leaving the socket with no events asked for. With Netty's epoll handler as it is (4.2.13 to at least
 * 4.2.20) the answer is cut off; with Titan's transport it arrives whole.
 */
class KeepEpollRegistrationTest {
    private static final int ANSWER = 32 << 20;

    @BeforeAll
    static void needsEpoll() {
        Assumptions.assumeTrue(Epoll.isAvailable(), "epoll is not available here");
    }

    @Test
    void aHalfClosedConnectionGetsAllOfABigAnswer() throws Exception {
        try (Transport t = Transport.create(Transport.Kind.EPOLL, 1)) {
            assertThat(answerReceived(t.group())).as("bytes of the answer received").isEqualTo(ANSWER);
        }
    }

    /**
     * Netty's own handler still loses the answer. When this fails, Netty has fixed its registration
     * state and {@link KeepEpollRegistration} can go.
     */
    @Test
    void nettysOwnEpollHandlerStillCutsTheAnswerOff() throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        try {
            assertThat(answerReceived(group)).as("bytes of the answer received").isLessThan(ANSWER);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /** Serves one answer after the request's FIN on {@code group}; returns how much of it the client got. */
    private static long answerReceived(EventLoopGroup group) throws Exception {
        Channel server = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        // as a proxy does once its other side is ready: read, and relay the answer
                        ctx.executor().schedule(() -> {
                            ctx.channel().config().setAutoRead(true);
                            for (int sent = 0; sent < ANSWER; sent += 64 << 10) {
                                ctx.write(Unpooled.wrappedBuffer(new byte[64 << 10]));
                            }
                            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
                        }, 300, TimeUnit.MILLISECONDS);
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ReferenceCountUtil.release(msg); // the request
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        try (Socket s = new Socket("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("request".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            Thread.sleep(600); // the answer fills the socket buffers: the server must wait for EPOLLOUT
            long received = 0;
            byte[] buf = new byte[64 << 10];
            InputStream in = s.getInputStream();
            try {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    received += n;
                }
            } catch (java.net.SocketException e) {
                // reset after a cut-off answer
            }
            return received;
        } finally {
            server.close().sync();
        }
    }
}
