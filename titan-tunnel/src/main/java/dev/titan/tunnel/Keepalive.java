package dev.titan.tunnel;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.codec.http2.Http2SettingsAckFrame;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.Http2WindowUpdateFrame;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends an HTTP/2 PING every interval on the tunnel, reports each round-trip time, and closes the
 * tunnel when no acknowledgement came within the timeout (a peer that vanished without a FIN).
 */
final class Keepalive extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(Keepalive.class);

    private final long intervalNanos;
    private final long timeoutNanos;
    private final LongConsumer rttNanos;
    private final Runnable onGoAway;
    private long lastAck = System.nanoTime();
    private ScheduledFuture<?> task;

    /** {@code onGoAway}: told on the tunnel's loop when the peer sends GOAWAY (it will take no new stream). */
    Keepalive(Duration interval, Duration timeout, LongConsumer rttNanos, Runnable onGoAway) {
        this.intervalNanos = interval.toNanos();
        this.timeoutNanos = timeout.toNanos();
        this.rttNanos = rttNanos;
        this.onGoAway = onGoAway;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        lastAck = System.nanoTime();
        task = ctx.executor().scheduleAtFixedRate(() -> tick(ctx), intervalNanos, intervalNanos, TimeUnit.NANOSECONDS);
        ctx.channel().closeFuture().addListener(f -> task.cancel(false));
    }

    private void tick(ChannelHandlerContext ctx) {
        long now = System.nanoTime();
        if (now - lastAck > timeoutNanos) {
            log.info("tunnel {}: no PING answer for {} ms, closing", ctx.channel().remoteAddress(), (now - lastAck) / 1_000_000);
            ctx.close();
            return;
        }
        ctx.writeAndFlush(new DefaultHttp2PingFrame(now, false));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2PingFrame ping) {
            if (ping.ack()) {
                long now = System.nanoTime();
                lastAck = now;
                rttNanos.accept(now - ping.content());
            }
            return; // the codec answers pings itself
        }
        if (msg instanceof Http2GoAwayFrame) {
            onGoAway.run();
        }
        if (msg instanceof Http2SettingsFrame || msg instanceof Http2SettingsAckFrame || msg instanceof Http2GoAwayFrame
                || msg instanceof Http2WindowUpdateFrame) { // connection-level frames the codec has already acted on
            ReferenceCountUtil.release(msg);
            return;
        }
        ctx.fireChannelRead(msg);
    }
}
