package dev.titan.core.net;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;

/**
 * The channel options every connection handed to a {@link Relay} carries, in one place: the pooled
 * allocator, half-closure allowed (a FIN is passed on, not a close), and a write-buffer water mark
 * that bounds memory per connection. Accepted connections also start with auto-read off, so that
 * nothing is read before the other side is ready.
 */
public final class RelayOptions {
    /** Bytes queued towards a slow peer before its source stops being read. */
    public static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(128 * 1024, 512 * 1024);

    /**
     * Reads of up to 256 KiB, where Netty's default stops at 64 KiB: a bulk stream is read and
     * written on in a quarter of the calls. The size adapts per connection, so small exchanges keep
     * small reads; stateless, so one instance serves every channel.
     */
    static final AdaptiveRecvByteBufAllocator READS = new AdaptiveRecvByteBufAllocator(64, 2048, 256 * 1024);

    private RelayOptions() {
    }

    /** Sets the options on the connections {@code b} accepts, auto-read off among them. */
    public static ServerBootstrap acceptedChildren(ServerBootstrap b) {
        return b.childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, READS);
    }

    /** Makes a connection that was accepted for something else (a port shared with tunnels) ready for a relay. */
    public static void apply(Channel ch) {
        apply(ch.config());
    }

    static void apply(ChannelConfig c) {
        c.setAllocator(PooledByteBufAllocator.DEFAULT);
        c.setWriteBufferWaterMark(WATER_MARK);
        c.setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        c.setRecvByteBufAllocator(READS);
    }
}
