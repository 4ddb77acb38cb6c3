package dev.titan.tunnel;

import dev.titan.core.config.HostPort;
import io.netty.channel.Channel;
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
     * Opens a stream to {@code service} on the client for the connection {@code user}. The stream
     * carries bytes (see {@link StreamAdapter}) and starts with auto-read off: the caller starts a
     * relay on it. Bytes may be written at once: the client buffers them, within the stream's
     * flow-control window, until its local connection is up (no round trip is waited for).
     */
    Future<Http2StreamChannel> open(String service, Channel user) {
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
                    stream.writeAndFlush(new DefaultHttp2HeadersFrame(headers, false));
                    promise.setSuccess(stream);
                });
        return promise;
    }
}
