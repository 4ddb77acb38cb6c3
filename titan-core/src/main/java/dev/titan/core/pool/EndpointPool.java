package dev.titan.core.pool;

import dev.titan.core.config.ClusterConfig;
import dev.titan.core.net.Connector;
import dev.titan.core.time.Clock;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Pre-connected idle connections to one endpoint. While pooled, a connection keeps reading so a
 * backend close is noticed at once (it leaves the pool and is never handed out); bytes the backend
 * sends first (an SSH or SMTP banner) are kept, bounded, and replayed to the client that takes the
 * connection. Sizing: static ({@code size_per_remote}) or dynamic — every scaling interval the
 * target is {@code recent_peak × (1 + target_buffer_ratio)} within {@code [min_size, max_size]},
 * approached by at most {@code scale_up_increment} / {@code scale_down_increment} per interval.
 * Idle connections older than {@code idle_timeout} are closed and replaced.
 */
public final class EndpointPool {
    /** A banner larger than this from a pooled connection makes it unusable; it is closed. */
    static final int MAX_EARLY_BYTES = 64 * 1024;

    private final InetSocketAddress address;
    private final Connector connector;
    private final EventLoopGroup loops;
    private final Clock clock;
    private volatile ClusterConfig.Pools config;
    private final Deque<Pooled> idle = new ArrayDeque<>();
    private final AtomicInteger connecting = new AtomicInteger();
    private final AtomicInteger inUse = new AtomicInteger();
    private final AtomicInteger peakInWindow = new AtomicInteger();
    private final AtomicLong hits = new AtomicLong();
    private final AtomicLong misses = new AtomicLong();
    private final AtomicLong scaleUps = new AtomicLong();
    private final AtomicLong scaleDowns = new AtomicLong();
    private volatile int target;
    private volatile int recentPeak;
    private volatile boolean closed;

    public EndpointPool(InetSocketAddress address, Connector connector, EventLoopGroup loops, ClusterConfig.Pools config, Clock clock) {
        this.address = address;
        this.connector = connector;
        this.loops = loops;
        this.config = config;
        this.clock = clock;
        this.target = initialTarget(config);
    }

    private static int initialTarget(ClusterConfig.Pools c) {
        return c.strategy().equals("static") ? c.sizePerRemote() : c.minSize();
    }

    public void reconfigure(ClusterConfig.Pools config) {
        this.config = config;
        if (config.strategy().equals("static")) {
            target = config.sizePerRemote();
        } else {
            target = Math.max(config.minSize(), Math.min(config.maxSize(), target));
        }
    }

    /** A connection taken from the pool, with the bytes the backend sent while it waited. */
    public record Lease(Channel channel, ByteBuf early) {
    }

    /**
     * Takes an idle connection that lives on {@code loop} (the caller's, which must be the current
     * thread); null when none is ready (a miss: the caller dials). Counts hits and misses.
     */
    public Lease acquire(EventLoop loop) {
        Pooled chosen = null;
        synchronized (idle) {
            for (Iterator<Pooled> it = idle.iterator(); it.hasNext(); ) {
                Pooled p = it.next();
                if (!p.channel.isActive()) {
                    it.remove();
                } else if (p.channel.eventLoop() == loop) {
                    // only connections of the caller's loop: handing over never waits on another loop
                    chosen = p;
                    it.remove();
                    break;
                }
            }
        }
        Lease lease = chosen == null ? null : chosen.guard.detach();
        if (lease == null) {
            misses.incrementAndGet();
        } else {
            hits.incrementAndGet();
        }
        if (!closed && idleCount() + connecting.get() < target) {
            dialOne(loop); // replace what was taken, on the loop that asked
        }
        return lease;
    }

    /** Records that a connection to this endpoint (pooled or dialled) is now carrying traffic. */
    public void connectionStarted() {
        int now = inUse.incrementAndGet();
        peakInWindow.accumulateAndGet(now, Math::max);
    }

    public void connectionEnded() {
        inUse.decrementAndGet();
    }

    /** Opens connections until idle + connecting reaches the target. */
    public void refill() {
        if (closed) {
            return;
        }
        int missing = target - idleCount() - connecting.get();
        for (int i = 0; i < missing; i++) {
            dialOne(loops.next());
        }
    }

    private void dialOne(EventLoop loop) {
        connecting.incrementAndGet();
        ChannelFuture f = connector.connect(address, loop, config.dialTimeout());
        f.addListener(done -> {
            if (!done.isSuccess()) {
                connecting.decrementAndGet();
                return; // the prober and passive signals judge the endpoint; the pool just retries later
            }
            Channel ch = f.channel();
            if (closed) {
                connecting.decrementAndGet();
                ch.close();
                return;
            }
            Pooled p = new Pooled(ch, clock.nanos());
            ch.pipeline().addLast("pool-guard", p.guard);
            ch.config().setAutoRead(true);
            synchronized (idle) {
                idle.addLast(p);
            }
            // only now: a refill in between must count this connection as idle or connecting, never as neither
            connecting.decrementAndGet();
            ch.closeFuture().addListener(c -> {
                synchronized (idle) {
                    idle.remove(p);
                }
            });
        });
    }

    /**
     * One scaling step (called every {@code scaling.interval}): the dynamic target follows the recent
     * peak concurrency; idle connections past {@code idle_timeout} are closed; the pool is refilled.
     */
    public void maintain() {
        if (closed) {
            return;
        }
        ClusterConfig.Pools c = config;
        int peak = peakInWindow.getAndSet(inUse.get());
        // a short memory of peaks so one quiet interval does not shrink the pool
        recentPeak = Math.max(peak, (int) (recentPeak * 0.8));
        if (c.strategy().equals("dynamic")) {
            int want = (int) Math.ceil(recentPeak * (1 + c.targetBufferRatio()));
            want = Math.max(c.minSize(), Math.min(c.maxSize(), want));
            int t = target;
            if (want > t) {
                target = Math.min(want, t + c.scaleUpIncrement());
                scaleUps.incrementAndGet();
            } else if (want < t) {
                target = Math.max(want, t - c.scaleDownIncrement());
                scaleDowns.incrementAndGet();
            }
        }
        long now = clock.nanos();
        long maxIdle = c.idleTimeout().toNanos();
        int excess = idleCount() - target;
        List<Pooled> drop = new java.util.ArrayList<>();
        synchronized (idle) {
            for (Iterator<Pooled> it = idle.iterator(); it.hasNext(); ) {
                Pooled p = it.next();
                boolean stale = now - p.since >= maxIdle;
                if (stale || excess > 0 || !p.channel.isActive()) {
                    it.remove();
                    drop.add(p);
                    if (!stale) {
                        excess--;
                    }
                }
            }
        }
        drop.forEach(p -> p.channel.close());
        refill();
    }

    /** Closes every idle connection and stops refilling; connections in use are not touched. */
    public void close() {
        closed = true;
        List<Pooled> all;
        synchronized (idle) {
            all = List.copyOf(idle);
            idle.clear();
        }
        // outside the lock and the iteration: a close runs the channel's listeners at once on its own loop
        all.forEach(p -> p.channel.close());
    }

    public int idleCount() {
        synchronized (idle) {
            return idle.size();
        }
    }

    public int inUse() {
        return inUse.get();
    }

    public int target() {
        return target;
    }

    public int recentPeak() {
        return recentPeak;
    }

    public long hits() {
        return hits.get();
    }

    public long misses() {
        return misses.get();
    }

    public long scaleUps() {
        return scaleUps.get();
    }

    public long scaleDowns() {
        return scaleDowns.get();
    }

    private static final class Pooled {
        final Channel channel;
        final long since;
        final Guard guard = new Guard();

        Pooled(Channel channel, long since) {
            this.channel = channel;
            this.since = since;
        }
    }

    /** Sits on a pooled connection: keeps early bytes, notices closes, and hands the channel over. */
    private static final class Guard extends ChannelInboundHandlerAdapter {
        private CompositeByteBuf early;
        private ChannelHandlerContext ctx;
        private boolean broken;

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof ByteBuf buf)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (early == null) {
                early = ctx.alloc().compositeBuffer();
            }
            early.addComponent(true, buf);
            if (early.readableBytes() > MAX_EARLY_BYTES) {
                broken = true;
                ctx.close();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            broken = true;
            releaseEarly();
            ctx.fireChannelInactive();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            // a half-closed pooled connection is useless: the backend will not answer
            if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
                broken = true;
                ctx.close();
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            broken = true;
            ctx.close();
        }

        private void releaseEarly() {
            if (early != null) {
                early.release();
                early = null;
            }
        }

        /** Detaches from the channel and returns the lease, or null if it broke. Runs on the channel's loop. */
        Lease detach() {
            Channel ch = ctx.channel();
            assert ch.eventLoop().inEventLoop();
            // auto-read stays on: the caller starts its relay in this same task, before any read
            if (broken || !ch.isActive()) {
                releaseEarly();
                ch.close();
                return null;
            }
            ch.pipeline().remove(this);
            ByteBuf bytes = early;
            early = null;
            return new Lease(ch, bytes);
        }
    }
}
