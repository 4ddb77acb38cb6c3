package dev.titan.bench.jmh;

import dev.titan.core.config.ClusterConfig;
import dev.titan.core.pool.EndpointPool;
import dev.titan.core.time.Clock;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the pool adds to a connection's hot path: take an idle connection on the caller's loop (a
 * hit: the guard handler leaves the pipeline), count it in use and out again, and pool the
 * replacement the take asks for (the guard joins its pipeline). The replacement comes from a
 * dialer that hands back an already-connected in-VM channel, so the figure is the pool's own work;
 * the socket connect a real replacement costs is the connector's, paid with or without a pool.
 * Runs on the loop, as in Titan: {@value #BATCH} leases per task.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PoolBenchmark {
    static final int BATCH = 1024;

    /** No traffic flows in this benchmark: channels need a handler, none is needed. */
    @ChannelHandler.Sharable
    static final class Nothing extends ChannelInboundHandlerAdapter {
    }

    private static final ChannelHandler NOTHING = new Nothing();

    /** Idle connections kept per endpoint ({@code size_per_remote}). */
    @Param({"1", "16", "256"})
    public int size;

    private EventLoopGroup group;
    private EventLoop loop;
    private Channel server;
    private final List<Channel> all = new ArrayList<>();
    /** Connected channels not in the pool: the dialer's supply, and where leases go back. */
    private final ArrayDeque<Channel> spare = new ArrayDeque<>();
    private EndpointPool pool;
    private Runnable batch;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        group = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());
        loop = group.next();
        LocalAddress address = new LocalAddress("pool-bench");
        server = new ServerBootstrap().group(group).channel(LocalServerChannel.class)
                .childHandler(NOTHING).bind(address).sync().channel();
        Bootstrap b = new Bootstrap().group(loop).channel(LocalChannel.class).handler(NOTHING);
        for (int i = 0; i < size + 1; i++) {
            Channel ch = b.connect(address).sync().channel();
            all.add(ch);
            spare.add(ch);
        }
        ClusterConfig.Pools config = new ClusterConfig.Pools(Duration.ofSeconds(1), Duration.ofMinutes(10), Duration.ofSeconds(30),
                "static", size, 0, 0, Duration.ofSeconds(1), 0.2, 10, 5);
        pool = new EndpointPool((l, timeout) -> spare.poll().newSucceededFuture(), group, config, Clock.SYSTEM);
        loop.submit(pool::refill).sync();
        batch = () -> {
            for (int i = 0; i < BATCH; i++) {
                EndpointPool.Lease lease = pool.acquire(loop);
                if (lease == null) {
                    throw new IllegalStateException("a miss: the pool should always have one ready");
                }
                pool.connectionStarted();
                pool.connectionEnded();
                spare.add(lease.channel());
            }
        };
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void acquireAndReplace() throws Exception {
        loop.submit(batch).sync();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        all.forEach(Channel::close);
        server.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
