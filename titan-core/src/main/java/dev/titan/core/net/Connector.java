package dev.titan.core.net;

import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.nio.channels.UnresolvedAddressException;
import java.time.Duration;

/**
 * Dials TCP connections to endpoints with the options every Titan relay expects: auto-read off
 * (the relay reads on demand), half-closure allowed, TCP_NODELAY and keepalive as configured,
 * and a write-buffer water mark that bounds memory per connection.
 */
public final class Connector {
    /** Bytes queued towards a slow peer before its source stops being read. */
    public static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(128 * 1024, 512 * 1024);

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

    /**
     * Starts a connection to {@code address} (resolved) on {@code loop}; the future completes when it
     * is up. The channel is built directly rather than through a {@code Bootstrap}: no reflective
     * factory, no option map, no resolver lookup per connection.
     */
    public ChannelFuture connect(InetSocketAddress address, EventLoop loop, Duration timeout) {
        SocketChannel ch = transport.newSocketChannel(address);
        ChannelConfig c = ch.config();
        c.setAllocator(PooledByteBufAllocator.DEFAULT);
        c.setAutoRead(false);
        c.setWriteBufferWaterMark(WATER_MARK);
        c.setConnectTimeoutMillis((int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis())));
        c.setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        if (!noDelay) { // Netty turns TCP_NODELAY on when it creates the channel
            ch.config().setTcpNoDelay(false);
        }
        if (keepAlive) {
            ch.config().setKeepAlive(true);
        }
        // the promise names its loop: callers on other threads may add listeners before the channel is registered
        ChannelPromise promise = new DefaultChannelPromise(ch, loop);
        // a failed connect leaves the channel open and registered (Bootstrap closes it; without one we must):
        // measured, unclosed sockets of refused connects reported EPOLLHUP forever and spun the event loop
        promise.addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        if (address.isUnresolved()) {
            ch.unsafe().closeForcibly();
            return promise.setFailure(new UnresolvedAddressException());
        }
        loop.register(ch).addListener(r -> {
            if (r.isSuccess()) {
                ch.connect(address, promise);
            } else {
                ch.unsafe().closeForcibly();
                promise.setFailure(r.cause());
            }
        });
        return promise;
    }
}
