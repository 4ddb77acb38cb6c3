package dev.titan.overlay;

import dev.titan.core.route.DestinationRequest;
import io.netty.channel.ChannelHandlerContext;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * 0-RTT's wait at the PoP: the proxy answered the client's CONNECT at once, and the request waits
 * for the client's first bytes (to send them with the stream's open) or, for a protocol whose
 * server speaks first, for {@code wait} to pass. One per connection, on its event loop.
 */
final class FirstFlight {
    private final Duration wait;
    private DestinationRequest pending;
    private boolean due;
    private ScheduledFuture<?> timer;

    FirstFlight(Duration wait) {
        this.wait = wait;
    }

    /** Whether the proxy answered at once and the request is waiting (or went) with the first bytes. */
    boolean answered() {
        return pending != null;
    }

    /** Holds {@code request} and starts the wait; {@code decideNow} asks the ingress again when it is over. */
    void start(ChannelHandlerContext ctx, DestinationRequest request, Runnable decideNow) {
        pending = request;
        timer = ctx.executor().schedule(() -> {
            due = true;
            decideNow.run();
        }, wait.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** The request, once the first bytes came or the wait is over; else null. */
    DestinationRequest ready(boolean firstBytesCame) {
        return firstBytesCame || due ? pending : null;
    }

    /** The request went: no wait left to time. */
    void done() {
        if (timer != null) {
            timer.cancel(false);
        }
    }
}
