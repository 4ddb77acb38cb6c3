package dev.titan.core.net;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.WriteBufferWaterMark;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * Dials TCP connections to endpoints with the options every Titan relay expects: auto-read off
 * (the relay reads on demand), half-closure allowed, TCP_NODELAY and keepalive as configured,
 * and a write-buffer water mark that bounds memory per connection.
 */
public final class Connector {
    /** Bytes queued towards a slow peer before its source stops being read. */
    public static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(128 * 1024, 512 * 1024);

    @ChannelHandler.Sharable
    private static final class Idle extends ChannelInboundHandlerAdapter {
    }

    private static final ChannelHandler IDLE = new Idle();

    private final Transport transport;
    private final boolean noDelay;
    private final boolean keepAlive;

    public Connector(Transport transport, boolean noDelay, boolean keepAlive) {
        this.transport = transport;
        this.noDelay = noDelay;
        this.keepAlive = keepAlive;
    }

    public Transport transport() {
        return transport;
    }

    /** Starts a connection to {@code address} on {@code loop}; the future completes when it is up. */
    public ChannelFuture connect(InetSocketAddress address, EventLoop loop, Duration timeout) {
        return new Bootstrap()
                .group(loop)
                .channel(transport.socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis())))
                .option(ChannelOption.ALLOCATOR, io.netty.buffer.PooledByteBufAllocator.DEFAULT)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, noDelay)
                .option(ChannelOption.SO_KEEPALIVE, keepAlive)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .handler(IDLE)
                .connect(address);
    }
}
