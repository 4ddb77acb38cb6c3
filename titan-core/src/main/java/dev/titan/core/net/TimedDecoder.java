package dev.titan.core.net;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A decoder of a connection's opening (a handshake, a request head, a ClientHello) with a
 * deadline: unless it is removed (done) or {@link #stopClock()}ed in time, {@link #timedOut} runs
 * and the connection closes. Ingresses and both tunnel ends use it.
 */
public abstract class TimedDecoder extends ByteToMessageDecoder {
    private final Duration limit;
    private ScheduledFuture<?> deadline;

    protected TimedDecoder(Duration limit) {
        this.limit = limit;
    }

    /** Called on the event loop when the deadline passes, just before the connection closes. */
    protected abstract void timedOut(ChannelHandlerContext ctx);

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        deadline = ctx.executor().schedule(() -> {
            timedOut(ctx);
            ctx.close();
        }, limit.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        stopClock();
    }

    /** The handshake has an outcome; the deadline no longer applies. */
    protected final void stopClock() {
        if (deadline != null) {
            deadline.cancel(false);
        }
    }
}
