package dev.titan.core.pool;

import dev.titan.core.config.ClusterConfig;
import dev.titan.core.net.TcpConnector;
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
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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

    private final Dialer dialer;
    private final EventLoopGroup loops;
    private final Clock clock;
    private volatile ClusterConfig.Pools config;
    /**
     * Idle connections by the loop they live on: a lease is only ever taken by that loop, so it finds
     * its own at the head of its queue, never scanning past another loop's.
     */
    private final Map<EventLoop, Deque<Pooled>> idle = new ConcurrentHashMap<>();
    private final AtomicInteger idleCount = new AtomicInteger();
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

    public EndpointPool(InetSocketAddress address, TcpConnector connector, EventLoopGroup loops, ClusterConfig.Pools config, Clock clock) {
        this((loop, timeout) -> connector.connect(address, loop, timeout), loops, config, clock);
    }

    /** A pool whose connections come from {@code dialer} (the benchmarks measure the pool alone this way). */
    public EndpointPool(Dialer dialer, EventLoopGroup loops, ClusterConfig.Pools config, Clock clock) {
        this.dialer = dialer;
        this.loops = loops;
        this.config = config;
        this.clock = clock;
        this.target = initialTarget(config);
    }

    private static int initialTarget(ClusterConfig.Pools c) {
        return c.strategy().equals("static") ? c.sizePerRemote() : c.minSize();
    }

    /** Opens one connection to the endpoint, registered on {@code loop}. */
    @FunctionalInterface
    public interface Dialer {
        ChannelFuture dial(EventLoop loop, Duration timeout);
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
        Lease lease = null;
        Deque<Pooled> own = idle.get(loop);
        // only connections of the caller's loop: handing over never waits on another loop
        while (own != null && lease == null) {
            Pooled p;
            synchronized (own) {
                p = own.pollFirst();
            }
            if (p == null) {
                break;
            }
            idleCount.decrementAndGet();
            lease = p.detach(); // null when it broke: it is closed and the next one is tried
        }
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
        ChannelFuture f = dialer.dial(loop, config.dialTimeout());
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
            // on the channel's loop: its close, if any, comes after this task (to the guard, which forgets it)
            Pooled p = new Pooled(ch, clock.nanos());
            ch.pipeline().addLast("pool-guard", p);
            if (!ch.isActive()) {
                connecting.decrementAndGet();
                ch.close();
                return;
            }
            Deque<Pooled> own = idle.computeIfAbsent(ch.eventLoop(), l -> new ArrayDeque<>());
            synchronized (own) {
                own.addLast(p);
            }
            idleCount.incrementAndGet();
            // only now: a refill in between must count this connection as idle or connecting, never as neither
            connecting.decrementAndGet();
            ch.config().setAutoRead(true);
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
        List<Pooled> drop = new ArrayList<>();
        for (Deque<Pooled> own : idle.values()) {
            synchronized (own) {
                for (Iterator<Pooled> it = own.iterator(); it.hasNext(); ) {
                    Pooled p = it.next();
                    boolean stale = now - p.since >= maxIdle;
                    if (stale || excess > 0) {
                        it.remove();
                        drop.add(p);
                        if (!stale) {
                            excess--;
                        }
                    }
                }
            }
        }
        idleCount.addAndGet(-drop.size());
        // outside the locks: a close runs the channel's handlers at once when on its own loop
        drop.forEach(p -> p.channel.close());
        refill();
    }

    /** Closes every idle connection and stops refilling; connections in use are not touched. */
    public void close() {
        closed = true;
        List<Pooled> all = new ArrayList<>();
        for (Deque<Pooled> own : idle.values()) {
            synchronized (own) {
                all.addAll(own);
                own.clear();
            }
        }
        idleCount.addAndGet(-all.size());
        // outside the locks and the iteration: a close runs the channel's handlers at once on its own loop
        all.forEach(p -> p.channel.close());
    }

    public int idleCount() {
        return idleCount.get();
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

    /**
     * One idle connection, and the handler that sits on it while pooled: keeps early bytes, takes
     * the connection out of its queue when it closes, and hands the channel over.
     */
    private final class Pooled extends ChannelInboundHandlerAdapter {
        final Channel channel;
        final long since;
        private CompositeByteBuf early;
        private boolean broken;

        Pooled(Channel channel, long since) {
            this.channel = channel;
            this.since = since;
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
            forget();
            ctx.fireChannelInactive();
        }

        /** Leaves the idle queue, if still in it (a close while pooled). */
        private void forget() {
            broken = true;
            Deque<Pooled> own = idle.get(channel.eventLoop());
            if (own == null) {
                return;
            }
            boolean removed;
            synchronized (own) {
                removed = own.remove(this);
            }
            if (removed) {
                idleCount.decrementAndGet();
            }
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

        /**
         * Detaches from the channel and returns the lease, or null if it broke (the channel is then
         * closed). Runs on the channel's loop, after the connection left its queue.
         */
        Lease detach() {
            Channel ch = channel;
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
