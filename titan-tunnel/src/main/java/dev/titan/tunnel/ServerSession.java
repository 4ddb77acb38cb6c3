package dev.titan.tunnel;

import dev.titan.core.config.HostPort;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** One authenticated tunnel on the server: opens a stream to one of the client's services per user connection. */
public final class ServerSession {
    private final Channel channel;
    private final TunnelServerConfig.User user;
    private final TunnelProtocol.Auth auth;
    private final int maxStreams;
    private final AtomicInteger activeStreams = new AtomicInteger();
    private final AtomicLong streamsOpened = new AtomicLong();
    private volatile long rttNanos = -1;
    private volatile Http2FrameCodec codec;
    private volatile boolean goAwayReceived;
    /** Until when (System.nanoTime) new streams prefer other replicas: this one refused the last ones. */
    private volatile long avoidUntil;
    private int refusalsInARow;

    ServerSession(Channel channel, TunnelServerConfig.User user, TunnelProtocol.Auth auth, int maxStreams) {
        this.channel = channel;
        this.user = user;
        this.auth = auth;
        this.maxStreams = maxStreams;
    }

    public String clientId() {
        return user.id();
    }

    public Channel channel() {
        return channel;
    }

    TunnelProtocol.Auth auth() {
        return auth;
    }

    /** Streams opened on this tunnel since it connected. */
    public long streamsOpened() {
        return streamsOpened.get();
    }

    public int activeStreams() {
        return activeStreams.get();
    }

    /** The last PING round trip in nanoseconds, -1 before the first. */
    public long rttNanos() {
        return rttNanos;
    }

    void rtt(long nanos) {
        rttNanos = nanos;
    }

    /**
     * True while this tunnel takes new streams: open, below its stream limit, and not draining (no
     * GOAWAY from the client). Asked from the users' event loops: the GOAWAY is noted in a volatile
     * flag on the tunnel's loop, since the codec's own state is only safe to read there.
     */
    boolean hasCapacity() {
        return !goAwayReceived && channel.isActive() && activeStreams.get() < maxStreams;
    }

    /**
     * The client refused a stream (it cannot reach its service, or is too busy): for a while new
     * streams go to other replicas first; 1 s, doubling with each refusal in a row, at most 30 s.
     * Passive, like HAProxy's {@code observe layer4}: the replica is tried again after that, or at
     * once when no other replica can take a stream. On the tunnel's loop.
     */
    void refused() {
        refusalsInARow = Math.min(refusalsInARow + 1, 6);
        avoidUntil = System.nanoTime() + Math.min(30_000_000_000L, 1_000_000_000L << (refusalsInARow - 1));
    }

    /** The client accepted a stream: no longer avoided. On the tunnel's loop. */
    void accepted() {
        refusalsInARow = 0;
        avoidUntil = 0;
    }

    /** Whether new streams should go to another replica first (see {@link #refused}). */
    boolean avoided(long now) {
        long until = avoidUntil;
        return until != 0 && now - until < 0;
    }

    /** The client sent GOAWAY: no new streams on this tunnel. On the tunnel's loop. */
    void goAwayReceived() {
        goAwayReceived = true;
    }

    void codec(Http2FrameCodec codec) {
        this.codec = codec;
    }

    /** Ends the tunnel gracefully: GOAWAY, then the close once its streams have ended, or after {@code timeout}. */
    void end(Duration timeout) {
        Http2FrameCodec c = codec;
        if (c != null) {
            c.gracefulShutdownTimeoutMillis(timeout.toMillis());
        }
        channel.close();
    }

    /**
     * Opens a stream to {@code service} on the client for the connection {@code user}, with
     * {@code answer} in its pipeline from the start (it sees the client's answer, or the stream's
     * end), and sends {@code firstFlight} (not taken over) right after the HEADERS: the client
     * buffers it, within the stream's window, until its local connection is up. The stream carries
     * bytes (see {@link StreamAdapter}) and has auto-read off; one read is asked for, the answer's.
     */
    Future<Http2StreamChannel> open(String service, Channel user, ChannelHandler answer, ByteBuf firstFlight) {
        Promise<Http2StreamChannel> promise = channel.eventLoop().newPromise();
        if (!hasCapacity()) {
            promise.setFailure(new IllegalStateException("tunnel of " + user.id() + " has no free stream"));
            return promise;
        }
        activeStreams.incrementAndGet();
        streamsOpened.incrementAndGet();
        new Http2StreamChannelBootstrap(channel)
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel ch) {
                        ch.pipeline().addLast("stream", new StreamAdapter());
                        ch.pipeline().addLast("answer", answer); // from the start: nothing the client sends can pass it
                    }
                })
                .open().addListener(f -> {
                    if (!f.isSuccess()) {
                        activeStreams.decrementAndGet();
                        promise.setFailure(f.cause());
                        return;
                    }
                    Http2StreamChannel stream = (Http2StreamChannel) f.getNow();
                    stream.closeFuture().addListener(c -> activeStreams.decrementAndGet());
                    Http2Headers headers = new DefaultHttp2Headers()
                            .method("CONNECT")
                            .authority(service);
                    // who connected, and where to: for X-Forwarded-For and the PROXY protocol on the client
                    if (user.remoteAddress() instanceof InetSocketAddress from && user.localAddress() instanceof InetSocketAddress to) {
                        headers.set(TunnelProtocol.CLIENT_ADDRESS_HEADER, HostPort.format(from));
                        headers.set(TunnelProtocol.SERVER_ADDRESS_HEADER, HostPort.format(to));
                    }
                    stream.write(new DefaultHttp2HeadersFrame(headers, false));
                    if (firstFlight.isReadable()) {
                        stream.write(firstFlight.retainedDuplicate());
                    }
                    stream.flush();
                    stream.read(); // the answer
                    promise.setSuccess(stream);
                });
        return promise;
    }
}
