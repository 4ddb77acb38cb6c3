package dev.titan.core.net;

import dev.titan.core.limit.RateLimiter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;

/**
 * Copies bytes both ways between two connected channels. Backpressure: auto-read is on while the
 * other side is writable and turned off when it is not (back on when it drains), so a slow reader
 * holds at most about one write-buffer high-water mark of data in memory. Auto-read stays on in
 * the steady state because on epoll every manual {@code read()} costs two {@code epoll_ctl} calls
 * (arm and disarm EPOLLIN): measured, that was the largest cost per request and per connection. Half-close: when one side ends its output (FIN), the other side's output is shut
 * after what was read has been written; the pair closes when both directions are done. Idle: the
 * pair closes when neither side moved a byte for {@code idleTimeout}.
 *
 * <pre>{@code
 * Relay.start(client, upstream, listener -> ..., Duration.ofMinutes(10), bytes -> counter.add(bytes));
 * }</pre>
 * Both channels must have {@link ChannelOption#ALLOW_HALF_CLOSURE} on; the relay turns auto-read
 * on. Callers start the relay in the same event-loop task in which they got the channels, so that
 * no read happens before the relay's handlers are in place. Every buffer read is either written to
 * the peer or released.
 */
public final class Relay {
    /**
     * Written by the relay to a channel that is not a socket but can end its output without closing
     * (a tunnel stream, which sends its FIN frame), when the other side sent its FIN. Such a channel
     * says so with the {@link #END_OF_OUTPUT_SUPPORTED} attribute; its pipeline turns the marker into
     * the end of its output.
     */
    public static final Object END_OF_OUTPUT = new Object() {
        @Override
        public String toString() {
            return "END_OF_OUTPUT";
        }
    };

    /** Set to true on a non-socket channel whose pipeline understands {@link #END_OF_OUTPUT}. */
    public static final AttributeKey<Boolean> END_OF_OUTPUT_SUPPORTED = AttributeKey.valueOf("titan.relay.endOfOutput");

    private final Channel a;
    private final Channel b;
    private final Stats stats;
    private final long idleNanos;
    // traffic seen by the idle timer: each side counts the bytes it reads (an opaque store, no clock
    // read per read); the timer, on a's loop, notes when a count last moved
    private long activitySeen = -1;
    private long quietSince = System.nanoTime();
    private volatile Throwable errorOfB;
    private volatile boolean detached;
    private ChannelFutureListener onClose;
    private ScheduledFuture<?> idleTask;

    /** Receives the relay's byte counts and its end. Called on the channels' event loops. */
    public interface Stats {
        void bytesFromA(long n);

        void bytesFromB(long n);

        void closed(Relay relay);

        /** Both {@code first} and {@code second}, in that order. */
        static Stats both(Stats first, Stats second) {
            return new Stats() {
                @Override
                public void bytesFromA(long n) {
                    first.bytesFromA(n);
                    second.bytesFromA(n);
                }

                @Override
                public void bytesFromB(long n) {
                    first.bytesFromB(n);
                    second.bytesFromB(n);
                }

                @Override
                public void closed(Relay relay) {
                    first.closed(relay);
                    second.closed(relay);
                }
            };
        }
    }

    /**
     * What the connector that made an upstream channel counts for the upstream's owner (a tunnel
     * client's bytes, its bandwidth limits), whichever listener relays the channel: attached with
     * {@link #account}, and taken by {@link #start} beside the listener's own stats.
     */
    public record Accounting(Stats stats, RateLimiter towardUpstream, RateLimiter fromUpstream) {
    }

    private static final AttributeKey<Accounting> ACCOUNTING = AttributeKey.valueOf("titan.relay.accounting");

    /**
     * Attaches {@code accounting} to {@code upstream} for the relay that will carry it. Several owners
     * may account for one upstream (an overlay's edge and the user it carries): their stats all
     * count, and the latest owner's bandwidth limits apply where it has one, else the earlier's.
     */
    public static void account(Channel upstream, Accounting accounting) {
        Accounting earlier = upstream.attr(ACCOUNTING).get();
        upstream.attr(ACCOUNTING).set(earlier == null ? accounting : new Accounting(Stats.both(earlier.stats(), accounting.stats()),
                accounting.towardUpstream() != null ? accounting.towardUpstream() : earlier.towardUpstream(),
                accounting.fromUpstream() != null ? accounting.fromUpstream() : earlier.fromUpstream()));
    }

    private Relay(Channel a, Channel b, Duration idleTimeout, Stats stats) {
        this.a = a;
        this.b = b;
        this.stats = stats;
        this.idleNanos = idleTimeout.isZero() ? 0 : idleTimeout.toNanos();
    }

    /**
     * Starts relaying between {@code a} (usually the client) and {@code b} (the upstream). Bytes
     * already buffered by handlers ahead of the relay are not the relay's concern: callers write
     * them before starting.
     */
    public static Relay start(Channel a, Channel b, Duration idleTimeout, Stats stats) {
        return start(a, b, idleTimeout, stats, null, null);
    }

    /**
     * As {@link #start(Channel, Channel, Duration, Stats)}, with bandwidth limits on the bytes read
     * from {@code a} and from {@code b} (null: none). A limit is usually shared by every relay of one
     * user; a side that got ahead of its limit stops reading until the limit has caught up. Bytes
     * are counted as they are read and passed on at once, so a side runs ahead of its limit by at
     * most the limit's burst plus what one read brings (for a tunnel stream, up to its window).
     */
    public static Relay start(Channel a, Channel b, Duration idleTimeout, Stats stats, RateLimiter fromA, RateLimiter fromB) {
        Accounting owner = b.hasAttr(ACCOUNTING) ? b.attr(ACCOUNTING).getAndSet(null) : null;
        if (owner != null) {
            stats = Stats.both(stats, owner.stats());
            fromA = fromA != null ? fromA : owner.towardUpstream();
            fromB = fromB != null ? fromB : owner.fromUpstream();
        }
        Relay r = new Relay(a, b, idleTimeout, stats);
        r.sideA = r.new Side(b, stats::bytesFromA, false, fromA);
        r.sideB = r.new Side(a, stats::bytesFromB, true, fromB);
        a.pipeline().addLast("relay", r.sideA);
        b.pipeline().addLast("relay", r.sideB);
        r.startIdleTimer();
        // when either closes, close the other once its pending writes are out; report when both are closed
        r.onClose = f -> r.onClosed(f.channel());
        a.closeFuture().addListener(r.onClose);
        b.closeFuture().addListener(r.onClose);
        EarlyInput.replay(a); // what they received before the relay was there goes first
        EarlyInput.replay(b);
        a.config().setAutoRead(true);
        b.config().setAutoRead(true);
        return r;
    }

    private Side sideA;
    private Side sideB;
    private boolean closedReported;

    private void onClosed(Channel closed) {
        Channel other = closed == a ? b : a;
        if (other.isOpen() && !(detached && closed == b)) {
            closeAfterFlush(other);
            return;
        }
        synchronized (this) {
            if (closedReported) {
                return;
            }
            closedReported = true;
        }
        if (idleTask != null) {
            idleTask.cancel(false);
        }
        stats.closed(this);
    }

    /**
     * Ends the relay without closing a: b closes, a's side of the relay steps out of a's pipeline,
     * and a stays open for what its owner does next (an HTTP proxy connection whose next request
     * goes to another origin, or whose origin closed between requests). The relay is reported
     * closed once b is. From any thread; the owner takes over a's reading.
     */
    public void detach() {
        if (detached) {
            return;
        }
        detached = true;
        a.closeFuture().removeListener(onClose);
        if (idleTask != null) {
            idleTask.cancel(false);
        }
        if (a.pipeline().context(sideA) != null) {
            a.pipeline().remove(sideA);
        }
        b.close();
    }

    /** The relay whose side is in {@code ch}'s pipeline, or null. */
    public static Relay on(Channel ch) {
        return ch.pipeline().get("relay") instanceof Side side ? side.relay() : null;
    }

    private void startIdleTimer() {
        if (idleNanos == 0) {
            return;
        }
        // a tick notices traffic up to a period late, so a quiet pair closes between idleNanos and
        // idleNanos + 2 periods after its last byte: at most a quarter late for timeouts over 200 ms
        long period = Math.max(TimeUnit.MILLISECONDS.toNanos(25), idleNanos / 8);
        idleTask = a.eventLoop().scheduleAtFixedRate(() -> {
            long now = System.nanoTime();
            long activity = sideA.activity() + sideB.activity();
            if (activity != activitySeen) {
                activitySeen = activity;
                quietSince = now;
            } else if (now - quietSince >= idleNanos && !detached) {
                a.close();
                b.close();
            }
        }, period, period, TimeUnit.NANOSECONDS);
    }

    /** Closes {@code ch} once what was written to it is out (at once when nothing is pending). */
    static void closeAfterFlush(Channel ch) {
        if (!ch.isOpen()) {
            return;
        }
        ChannelOutboundBuffer pending = ch.unsafe().outboundBuffer();
        if (pending == null || pending.totalPendingWriteBytes() == 0) {
            ch.close();
        } else {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** The handler on one side: reads from its channel and writes to {@code peer}. */
    private final class Side extends ChannelInboundHandlerAdapter {
        private final Channel peer;
        private final LongConsumer counter;
        private final boolean isB;
        private final RateLimiter limit;
        private volatile boolean inputDone; // read by the other side, which may run on another loop
        private volatile boolean throttled; // paused by the bandwidth limit; the other side must not resume it
        private long bytes; // bytes read on this side; written by its loop only, read by the idle timer and when the pair ends

        private static final VarHandle BYTES;

        static {
            try {
                BYTES = MethodHandles.lookup().findVarHandle(Side.class, "bytes", long.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        Relay relay() {
            return Relay.this;
        }

        /** Traffic on this side for the idle timer: bytes read, plus one once its input has ended. */
        long activity() {
            return bytes() + (inputDone ? 1 : 0);
        }

        /** Bytes read: an opaque load of what this side's loop stored without a fence. */
        long bytes() {
            return (long) BYTES.getOpaque(this);
        }

        Side(Channel peer, LongConsumer counter, boolean isB, RateLimiter limit) {
            this.peer = peer;
            this.counter = counter;
            this.isB = isB;
            this.limit = limit;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (detached) { // what b still delivers after a detach is not a's
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof ByteBuf buf) {
                int n = buf.readableBytes();
                if (n > 0) {
                    BYTES.setOpaque(this, bytes + n);
                    counter.accept(n);
                    if (limit != null) {
                        throttle(ctx, limit.take(n));
                    }
                }
                if (!peer.isActive()) {
                    buf.release();
                    return;
                }
                peer.write(buf, peer.voidPromise());
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        /** Ahead of the bandwidth limit by {@code waitNanos}: stop reading this side for that long. */
        private void throttle(ChannelHandlerContext ctx, long waitNanos) {
            if (waitNanos <= 0 || throttled) {
                return;
            }
            throttled = true;
            ctx.channel().config().setAutoRead(false);
            ctx.executor().schedule(() -> resume(ctx), waitNanos, TimeUnit.NANOSECONDS);
        }

        /** Reads again once the limit has caught up with everything read meanwhile (reads already under way when the pause began). */
        private void resume(ChannelHandlerContext ctx) {
            long more = limit.take(0);
            if (more > 0) {
                ctx.executor().schedule(() -> resume(ctx), more, TimeUnit.NANOSECONDS);
                return;
            }
            throttled = false;
            if (peer.isWritable() && ctx.channel().isActive()) {
                ctx.channel().config().setAutoRead(true);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            peer.flush();
            if (!peer.isWritable()) {
                // the peer is backed up: stop reading until it drains (channelWritabilityChanged)
                ctx.channel().config().setAutoRead(false);
                // The peer may live on another event loop and have drained, and sent its "writable"
                // (which turns our reading back on) between the check above and the pause: then
                // nothing would resume us, and with the same on the other side both directions
                // stall for good. So look again after pausing.
                if (peer.isWritable() && !throttled) {
                    ctx.channel().config().setAutoRead(true);
                }
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            // our channel drained: resume reading from the peer that writes into it
            Side reader = isB ? sideA : sideB; // the side that reads from peer
            if (ctx.channel().isWritable() && peer.isActive() && !reader.throttled) {
                peer.config().setAutoRead(true);
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (EarlyInput.isEndOfInput(evt)) {
                if (inputDone || detached) { // after a detach, the end of b is not passed on to a
                    inputDone = true;
                    return;
                }
                inputDone = true;
                Side other = isB ? sideA : sideB;
                if (other.inputDone) {
                    // both ends have finished sending: the pair is done once the last bytes are out
                    // (closing sends the FIN; a shutdown first would only add a syscall and an exception)
                    closeAfterFlush(peer);
                    closeAfterFlush(ctx.channel());
                } else if (peer.isActive() && Boolean.TRUE.equals(peer.attr(END_OF_OUTPUT_SUPPORTED).get())) {
                    peer.writeAndFlush(END_OF_OUTPUT); // a tunnel stream: ends its output, keeps reading
                } else if (peer instanceof DuplexChannel duplex && peer.isActive()) {
                    // the other end finished sending: pass the FIN on once the bytes before it are written
                    peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> {
                        if (duplex.isActive()) {
                            Transport.shutdownOutput(duplex);
                            // Both directions of the pair are then ending, so the end of the peer's
                            // input will end the pair: let it close the channel. With half-closure on,
                            // Netty would first shut the input down: a syscall on a socket already
                            // closed both ways, failing with ENOTCONN into an exception with a stack
                            // trace, before the relay closed it anyway.
                            duplex.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false);
                        }
                        closeIfBothDone(ctx.channel());
                    });
                } else {
                    closeAfterFlush(peer);
                    ctx.close();
                }
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }

        private void closeIfBothDone(Channel self) {
            if (self instanceof DuplexChannel ds && peer instanceof DuplexChannel dp
                    && ds.isInputShutdown() && ds.isOutputShutdown() && dp.isInputShutdown() && dp.isOutputShutdown()) {
                self.close();
                peer.close();
            } else if (self instanceof DuplexChannel ds && ds.isInputShutdown() && ds.isOutputShutdown()) {
                self.close();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // resets and timeouts end the pair; they are normal for a proxy and logged at debug
            Log.debugIo(ctx.channel(), cause);
            if (isB) {
                errorOfB = cause;
            }
            ctx.close();
        }
    }

    /** True if side b (the upstream) sent at least one byte. */
    public boolean bAnswered() {
        return sideB.bytes() > 0;
    }

    /**
     * Most bytes side b may have been given before it failed without answering for that to count as
     * a refusal ({@link #bRefused()}): about what a client sends as its first request.
     */
    public static final long REFUSAL_MAX_BYTES = 64 * 1024;

    /**
     * True if side b (the upstream) failed (e.g. was reset) before it sent a single byte and before
     * it had been given more than {@link #REFUSAL_MAX_BYTES}: an upstream that accepts connections
     * and drops them (a crashed service behind a live port, an overloaded server). An upstream that
     * took more than that was alive and reading; when it then resets a connection to which it never
     * writes (iperf3's data streams, an upload it refuses part way), that is its protocol ending
     * the stream, not a failure.
     */
    public boolean bRefused() {
        return errorOfB != null && sideB.bytes() == 0 && sideA.bytes() <= REFUSAL_MAX_BYTES;
    }

    public Channel a() {
        return a;
    }

    public Channel b() {
        return b;
    }
}
