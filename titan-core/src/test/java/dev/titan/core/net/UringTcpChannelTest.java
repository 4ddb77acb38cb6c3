package dev.titan.core.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.uring.IoUring;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Titan's io_uring TCP channels against plain sockets: bytes both ways in order (one buffer, many,
 * a composite one, a heap one), the peer's FIN as an event and our FIN by the socket's shutdown,
 * the connect's failures named as Netty's are, a reset, closes with a receive or a large send in
 * flight (the leak detector, paranoid in tests, sees every buffer), and the listener: its
 * connections' addresses, and accepting paused while it does not read.
 */
class UringTcpChannelTest {
    private Transport transport;
    private ServerSocket server;

    @BeforeEach
    void start() throws IOException {
        assumeTrue(IoUring.isAvailable(), "io_uring is not available here");
        transport = Transport.create(Transport.Kind.IO_URING, 1);
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    }

    @AfterEach
    void stop() throws IOException {
        if (transport != null) {
            transport.close();
            server.close();
        }
    }

    private InetSocketAddress serverAddress() {
        return new InetSocketAddress("127.0.0.1", server.getLocalPort());
    }

    /** Connects through the connector (the channel relays get), with {@code handler} in its pipeline. */
    private Channel connect(ChannelInboundHandlerAdapter handler, Duration timeout, InetSocketAddress to) throws InterruptedException {
        ChannelFuture f = new TcpConnector(transport, true, false).connect(to, transport.group().next(), timeout);
        f.channel().pipeline().addLast(handler);
        f.await(10, TimeUnit.SECONDS);
        return f.isSuccess() ? f.channel() : failed(f);
    }

    private static Channel failed(ChannelFuture f) {
        throw new AssertionError("connect failed", f.cause());
    }

    /** Collects what arrives and the end of the input; reads on. */
    private static final class Collect extends ChannelInboundHandlerAdapter {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final CompletableFuture<Void> ended = new CompletableFuture<>();
        final CompletableFuture<Throwable> failed = new CompletableFuture<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            byte[] got = new byte[b.readableBytes()];
            b.readBytes(got);
            synchronized (bytes) {
                bytes.writeBytes(got);
            }
            b.release();
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.read();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt == ChannelInputShutdownEvent.INSTANCE) {
                ended.complete(null);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            failed.complete(cause);
        }

        byte[] bytes() {
            synchronized (bytes) {
                return bytes.toByteArray();
            }
        }
    }

    @Test
    void carriesBytesBothWaysAndPassesEachFinOn() throws Exception {
        CompletableFuture<byte[]> received = new CompletableFuture<>();
        Thread peer = Thread.ofVirtual().start(() -> {
            try (Socket s = server.accept()) {
                received.complete(s.getInputStream().readAllBytes()); // up to our FIN
                OutputStream out = s.getOutputStream();
                out.write("answer".getBytes(StandardCharsets.US_ASCII));
                s.shutdownOutput();
                s.getInputStream().read(); // until we close
            } catch (IOException e) {
                received.completeExceptionally(e);
            }
        });
        Collect in = new Collect();
        Channel ch = connect(in, Duration.ofSeconds(5), serverAddress());
        assertThat(ch).isInstanceOf(UringTcpChannel.class);
        assertThat(ch.config().getOption(ChannelOption.TCP_NODELAY)).isTrue();
        ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        ch.read();

        CompositeByteBuf composite = Unpooled.compositeBuffer();
        composite.addComponent(true, Unpooled.directBuffer().writeBytes(" three".getBytes(StandardCharsets.US_ASCII)));
        composite.addComponent(true, Unpooled.directBuffer().writeBytes(" four".getBytes(StandardCharsets.US_ASCII)));
        ch.write(PooledByteBufAllocator.DEFAULT.directBuffer().writeBytes("one".getBytes(StandardCharsets.US_ASCII)));
        ch.write(Unpooled.copiedBuffer(" two", StandardCharsets.US_ASCII)); // a heap buffer: copied for the kernel
        ch.write(composite);
        ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> Transport.shutdownOutput((DuplexChannel) ch)).sync();

        assertThat(new String(received.get(5, TimeUnit.SECONDS), StandardCharsets.US_ASCII)).isEqualTo("one two three four");
        in.ended.get(5, TimeUnit.SECONDS);
        assertThat(new String(in.bytes(), StandardCharsets.US_ASCII)).isEqualTo("answer");
        DuplexChannel d = (DuplexChannel) ch;
        assertThat(d.isInputShutdown()).isTrue();
        assertThat(d.isOutputShutdown()).isTrue();
        assertThat(ch.remoteAddress()).isEqualTo(serverAddress());
        assertThat(((InetSocketAddress) ch.localAddress()).getAddress()).isEqualTo(InetAddress.getByName("127.0.0.1"));
        ch.close().sync();
        peer.join(5000);
    }

    @Test
    void aLargeTransferArrivesWholeAndInOrderThroughBackPressure() throws Exception {
        byte[] data = new byte[8 << 20];
        new Random(7).nextBytes(data);
        CompletableFuture<byte[]> received = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try (Socket s = server.accept()) {
                s.setReceiveBufferSize(64 << 10);
                InputStream in = s.getInputStream();
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                byte[] chunk = new byte[16 << 10];
                for (int n; (n = in.read(chunk)) > 0; ) {
                    got.write(chunk, 0, n);
                    if (got.size() < (1 << 20)) {
                        Thread.sleep(1); // slow at first, so the sender's queue fills
                    }
                }
                received.complete(got.toByteArray());
            } catch (IOException | InterruptedException e) {
                received.completeExceptionally(e);
            }
        });
        Channel ch = connect(new ChannelInboundHandlerAdapter(), Duration.ofSeconds(5), serverAddress());
        List<ChannelFuture> writes = new ArrayList<>();
        boolean sawUnwritable = false;
        for (int off = 0; off < data.length; off += 100_000) {
            int len = Math.min(100_000, data.length - off);
            writes.add(ch.write(PooledByteBufAllocator.DEFAULT.directBuffer(len).writeBytes(data, off, len)));
            if (off % 1_000_000 == 0) {
                ch.flush();
            }
            sawUnwritable |= !ch.isWritable();
        }
        ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> Transport.shutdownOutput((DuplexChannel) ch)).sync();
        for (ChannelFuture w : writes) {
            assertThat(w.isSuccess()).isTrue();
        }
        assertThat(sawUnwritable).as("the outbound buffer passed its high water mark").isTrue();
        assertThat(received.get(20, TimeUnit.SECONDS)).isEqualTo(data);
        ch.close().sync();
    }

    @Test
    void aRefusedConnectNamesTheAddress() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        InetSocketAddress nobody = new InetSocketAddress("127.0.0.1", closedPort);
        ChannelFuture refused = new TcpConnector(transport, true, false).connect(nobody, transport.group().next(), Duration.ofSeconds(5));
        assertThat(refused.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(refused.cause()).isInstanceOf(ConnectException.class).hasMessageContaining("Connection refused").hasMessageContaining(
                String.valueOf(closedPort));
        assertThat(refused.channel().closeFuture().await(5, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void aConnectThatGetsNoAnswerFailsAfterItsTimeoutAndCloses() throws Exception {
        List<Socket> filling = new ArrayList<>();
        try (ServerSocket full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            InetSocketAddress at = new InetSocketAddress("127.0.0.1", full.getLocalPort());
            for (int i = 0; i < 8; i++) { // fills the accept queue; later SYNs are dropped
                Socket s = new Socket();
                try {
                    s.connect(at, 100);
                    filling.add(s);
                } catch (IOException e) {
                    closeQuietly(s);
                    break;
                }
            }
            ChannelFuture f = new TcpConnector(transport, true, false).connect(at, transport.group().next(), Duration.ofMillis(300));
            assertThat(f.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(f.cause()).isInstanceOf(ConnectTimeoutException.class).hasMessageContaining(String.valueOf(full.getLocalPort()));
            assertThat(f.channel().closeFuture().await(5, TimeUnit.SECONDS)).isTrue();
        } finally {
            filling.forEach(UringTcpChannelTest::closeQuietly);
        }
    }

    @Test
    void aResetIsAnExceptionAndClosesTheChannel() throws Exception {
        Thread.ofVirtual().start(() -> {
            try {
                Socket s = server.accept();
                s.setSoLinger(true, 0);
                s.getInputStream().read(); // our first byte
                s.close(); // RST
            } catch (IOException e) {
                // the test fails on its own then
            }
        });
        Collect in = new Collect();
        Channel ch = connect(in, Duration.ofSeconds(5), serverAddress());
        ch.read();
        ch.writeAndFlush(Unpooled.copiedBuffer("x", StandardCharsets.US_ASCII));
        assertThat(in.failed.get(5, TimeUnit.SECONDS)).isInstanceOf(IOException.class).hasMessageContaining("reset");
        assertThat(ch.closeFuture().await(5, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void closesWithAReceiveOrALargeSendInFlight() throws Exception {
        LinkedBlockingQueue<Socket> accepted = new LinkedBlockingQueue<>();
        Thread.ofVirtual().start(() -> {
            try {
                for (int i = 0; i < 2; i++) {
                    accepted.add(server.accept()); // never reads nor writes
                }
            } catch (IOException e) {
                // closed at the end
            }
        });
        Channel reading = connect(new Collect(), Duration.ofSeconds(5), serverAddress());
        reading.read(); // a receive waits in the ring
        Channel sending = connect(new ChannelInboundHandlerAdapter(), Duration.ofSeconds(5), serverAddress());
        ChannelFuture big = sending.writeAndFlush(PooledByteBufAllocator.DEFAULT.directBuffer(32 << 20).writeZero(32 << 20));
        Thread.sleep(100); // the send is parked: the peer reads nothing
        assertThat(big.isDone()).isFalse();
        reading.close().sync();
        sending.close().sync();
        assertThat(big.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(big.isSuccess()).as("the close failed the unsent write").isFalse();
        for (Socket s; (s = accepted.poll(1, TimeUnit.SECONDS)) != null; ) {
            s.close();
        }
    }

    /** A write's listener that closes the channel while a writev's bytes are taken off the buffer: what the kernel took is written. */
    @Test
    void aCloseFromAWritesListenerDoesNotFailWritesTheKernelAlreadyTook() throws Exception {
        CompletableFuture<byte[]> received = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try (Socket s = server.accept()) {
                received.complete(s.getInputStream().readAllBytes());
            } catch (IOException e) {
                received.completeExceptionally(e);
            }
        });
        Channel ch = connect(new ChannelInboundHandlerAdapter(), Duration.ofSeconds(5), serverAddress());
        ChannelFuture[] writes = new ChannelFuture[2];
        ch.eventLoop().submit(() -> {
            writes[0] = ch.write(Unpooled.directBuffer().writeBytes("first ".getBytes(StandardCharsets.US_ASCII)));
            writes[0].addListener(f -> ch.close());
            // flushed together: one writev for both
            writes[1] = ch.writeAndFlush(Unpooled.directBuffer().writeBytes("second".getBytes(StandardCharsets.US_ASCII)));
        }).sync();
        assertThat(ch.closeFuture().await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(writes[1].isSuccess()).as("the second buffer went out in the same writev").isTrue();
        assertThat(new String(received.get(5, TimeUnit.SECONDS), StandardCharsets.US_ASCII)).isEqualTo("first second");
    }

    @Test
    void aListenerAcceptsConnectionsThatKnowBothAddressesAndCarryBytes() throws Exception {
        for (String bind : new String[] {"127.0.0.1", "0.0.0.0"}) {
            LinkedBlockingQueue<Channel> accepted = new LinkedBlockingQueue<>();
            Channel listener = transport.listenerBootstrap(true, false, false)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childHandler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelActive(ChannelHandlerContext ctx) {
                            accepted.add(ctx.channel());
                            ctx.fireChannelActive();
                        }

                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            ctx.writeAndFlush(msg); // echo
                        }
                    })
                    .bind(new InetSocketAddress(bind, 0)).sync().channel();
            assertThat(listener).isInstanceOf(UringTcpServerChannel.class);
            int port = ((InetSocketAddress) listener.localAddress()).getPort();
            try (Socket client = new Socket("127.0.0.1", port)) {
                Channel ch = accepted.poll(5, TimeUnit.SECONDS);
                assertThat(ch).isInstanceOf(UringTcpChannel.class);
                assertThat(ch.remoteAddress()).isEqualTo(client.getLocalSocketAddress());
                assertThat(ch.localAddress()).as("bound to %s", bind).isEqualTo(new InetSocketAddress("127.0.0.1", port));
                client.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
                client.setSoTimeout(5000);
                assertThat(new String(client.getInputStream().readNBytes(4), StandardCharsets.US_ASCII)).isEqualTo("ping");
                ch.close().sync();
                assertThat(client.getInputStream().read()).as("our close is the client's end of input").isEqualTo(-1);
            } finally {
                listener.close().sync();
            }
        }
    }

    @Test
    void aListenerThatStopsReadingLeavesNewConnectionsQueuedUntilItReadsAgain() throws Exception {
        LinkedBlockingQueue<Channel> accepted = new LinkedBlockingQueue<>();
        Channel listener = transport.listenerBootstrap(true, false, false)
                .childHandler(new io.netty.channel.ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accepted.add(ch);
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        InetSocketAddress at = (InetSocketAddress) listener.localAddress();
        try (Socket first = new Socket(at.getAddress(), at.getPort())) {
            assertThat(accepted.poll(5, TimeUnit.SECONDS)).isNotNull();
            listener.config().setAutoRead(false);
            Thread.sleep(100); // the accept in the ring is cancelled
            try (Socket second = new Socket(at.getAddress(), at.getPort())) { // the kernel completes the handshake
                assertThat(accepted.poll(300, TimeUnit.MILLISECONDS)).as("not accepted while not reading").isNull();
                listener.config().setAutoRead(true);
                assertThat(accepted.poll(5, TimeUnit.SECONDS)).as("accepted once reading again").isNotNull();
            }
        } finally {
            for (Channel c; (c = accepted.poll()) != null; ) {
                c.close();
            }
            listener.close().sync();
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // closing
        }
    }
}
