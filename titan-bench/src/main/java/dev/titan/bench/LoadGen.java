package dev.titan.bench;

import dev.titan.core.net.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.Epoll;
import io.netty.handler.proxy.HttpProxyHandler;
import io.netty.handler.proxy.ProxyHandler;
import io.netty.handler.proxy.Socks5ProxyHandler;
import io.netty.resolver.NoopAddressResolverGroup;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Titan's own load generator, for what wrk cannot do: open-loop fixed-rate latency (latency is
 * measured from when each request was due, so a slow server cannot hide behind a slowed-down
 * generator), connection rate, and many idle connections. It speaks just enough HTTP/1.1 for
 * responses with a Content-Length.
 */
public final class LoadGen implements AutoCloseable {
    // direct and shared: a write sends a duplicate, so no request is allocated or copied into native memory
    private static final ByteBuf KEEP_ALIVE = request("GET / HTTP/1.1\r\nHost: bench\r\n\r\n");
    private static final ByteBuf CLOSE = request("GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");

    private final Transport transport;

    private static ByteBuf request(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        return Unpooled.unreleasableBuffer(Unpooled.directBuffer(bytes.length).writeBytes(bytes)).asReadOnly();
    }

    /**
     * On epoll where Linux has it, whatever Titan's default transport: the generator was validated
     * against wrk on epoll (the validate scenario), so a change of Titan's default must not change
     * the instrument.
     */
    public LoadGen(int threads) {
        transport = Transport.create(Epoll.isAvailable() ? "epoll" : "nio", threads);
    }

    /** What a run measured. Latencies in microseconds. */
    public record Result(long requests, long errors, double seconds, double rps, double meanUs, double p50Us, double p90Us, double p99Us,
                         double p999Us, double maxUs) {
        static Result of(long requests, long errors, double seconds, long[] latNanos, int n) {
            long[] l = Arrays.copyOf(latNanos, n);
            Arrays.sort(l);
            double mean = n == 0 ? 0 : Arrays.stream(l).average().orElse(0) / 1e3;
            return new Result(requests, errors, seconds, requests / seconds, mean, pct(l, 0.50), pct(l, 0.90), pct(l, 0.99), pct(l, 0.999),
                    n == 0 ? 0 : l[n - 1] / 1e3);
        }

        /** The figures a scenario publishes: {@code rateName} (req_per_s, conn_per_s), p50, p99 and errors. */
        Map<String, Double> metrics(String rateName) {
            Map<String, Double> v = new java.util.LinkedHashMap<>();
            v.put(rateName, rps);
            v.put("p50_ms", p50Us / 1000);
            v.put("p99_ms", p99Us / 1000);
            v.put("errors", (double) errors);
            return v;
        }

        private static double pct(long[] sorted, double q) {
            if (sorted.length == 0) {
                return 0;
            }
            int i = (int) Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
            return sorted[Math.max(0, i)] / 1e3;
        }
    }

    /** Latency samples shared by all connections of a run (written on event loops). */
    private static final class Samples {
        final long[] nanos;
        final AtomicLong count = new AtomicLong();
        final AtomicLong errors = new AtomicLong();

        Samples(int capacity) {
            nanos = new long[capacity];
        }

        void add(long v) {
            long i = count.getAndIncrement();
            if (i < nanos.length) {
                nanos[(int) i] = v;
            }
        }

        int size() {
            return (int) Math.min(count.get(), nanos.length);
        }
    }

    /**
     * Open loop: {@code rate} requests a second in total, spread evenly over {@code connections}
     * keep-alive connections (pipelined when a response is late), for {@code duration}.
     */
    public Result openLoop(InetSocketAddress target, int connections, int rate, Duration duration) throws InterruptedException {
        Samples samples = new Samples((int) Math.min(50_000_000L, (long) rate * duration.toSeconds() + 1000));
        List<Channel> channels = connect(target, connections, samples, true);
        long intervalNanos = TimeUnit.SECONDS.toNanos(1) * connections / rate;
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
        long end = start + duration.toNanos();
        CountDownLatch done = new CountDownLatch(channels.size());
        for (int i = 0; i < channels.size(); i++) {
            Channel ch = channels.get(i);
            long first = start + intervalNanos * i / channels.size();
            scheduleNext(ch, first, intervalNanos, end, done);
        }
        done.await(duration.toSeconds() + 30, TimeUnit.SECONDS);
        Thread.sleep(200); // let the last responses arrive
        double secs = duration.toNanos() / 1e9;
        long ok = samples.count.get();
        channels.forEach(Channel::close);
        return Result.of(ok, samples.errors.get(), secs, samples.nanos, samples.size());
    }

    private void scheduleNext(Channel ch, long due, long interval, long end, CountDownLatch done) {
        if (due >= end || !ch.isActive()) {
            done.countDown();
            return;
        }
        long delay = due - System.nanoTime();
        ch.eventLoop().schedule(() -> {
            ch.pipeline().get(Client.class).due.add(due);
            ch.writeAndFlush(KEEP_ALIVE.duplicate());
            scheduleNext(ch, due + interval, interval, end, done);
        }, Math.max(0, delay), TimeUnit.NANOSECONDS);
    }

    /**
     * A proxy the load goes through: {@code socks5} (RFC 1928; with a username, RFC 1929 login) or
     * {@code http} (an HTTP CONNECT tunnel); the proxy is asked to connect to the target, then the
     * requests flow through it. Netty's proxy handlers do the handshakes. {@code source}: the local
     * address connections to the proxy come from (null: the system's choice), for proxies that admit
     * clients by their address.
     */
    public record Via(String protocol, InetSocketAddress proxy, String username, String password, java.net.InetAddress source) {
        public Via {
            if (!protocol.equals("socks5") && !protocol.equals("http")) {
                throw new IllegalArgumentException("proxy protocol must be socks5 or http, got " + protocol);
            }
        }

        public Via(String protocol, InetSocketAddress proxy, String username, String password) {
            this(protocol, proxy, username, password, null);
        }

        public Via(String protocol, InetSocketAddress proxy) {
            this(protocol, proxy, null, null, null);
        }

        ProxyHandler handler() {
            ProxyHandler h = protocol.equals("socks5") ? new Socks5ProxyHandler(proxy, username, password)
                    : username == null ? new HttpProxyHandler(proxy) : new HttpProxyHandler(proxy, username, password);
            h.setConnectTimeoutMillis(5_000);
            return h;
        }
    }

    /** Closed loop over keep-alive connections, like wrk: each connection sends its next request when the last answer is in. */
    public Result closedLoop(InetSocketAddress target, int connections, Duration duration) throws InterruptedException {
        return closedLoop(target, null, connections, duration);
    }

    /** {@link #closedLoop(InetSocketAddress, int, Duration)} through a proxy ({@code via}; null: direct). */
    public Result closedLoop(InetSocketAddress target, Via via, int connections, Duration duration) throws InterruptedException {
        return closedLoop(target, via, connections, duration, false);
    }

    /**
     * {@link #closedLoop(InetSocketAddress, int, Duration)} with wrk's timing when {@code wrkClock}:
     * a connection's next request is written on the event loop's next turn, after every response
     * of the current turn is read, and its clock starts at that write, as wrk does (it re-arms
     * write interest when a response completes and starts the clock in the write callback). The
     * wait for that turn is then in no latency. Used only to show that this generator measures
     * what wrk measures when it times the same thing.
     */
    public Result closedLoop(InetSocketAddress target, Via via, int connections, Duration duration, boolean wrkClock)
            throws InterruptedException {
        Samples samples = new Samples(20_000_000);
        List<Channel> channels = connect(target, via, connections, samples, true);
        long end = System.nanoTime() + duration.toNanos();
        long start = System.nanoTime();
        for (Channel ch : channels) {
            Client c = ch.pipeline().get(Client.class);
            c.closedLoopUntil = end;
            c.sendNextTurn = wrkClock;
            c.sendNow(ch);
        }
        Thread.sleep(duration.toMillis());
        Thread.sleep(100);
        double secs = (System.nanoTime() - start) / 1e9;
        channels.forEach(Channel::close);
        return Result.of(samples.count.get(), samples.errors.get(), secs, samples.nanos, samples.size());
    }

    /** A new connection per request, {@code concurrency} at a time, for {@code duration}. */
    public Result connectionRate(InetSocketAddress target, int concurrency, Duration duration) throws InterruptedException {
        return connectionRate(target, null, concurrency, duration);
    }

    /**
     * {@link #connectionRate(InetSocketAddress, int, Duration)} through a proxy ({@code via}; null:
     * direct): each request's latency runs from its connect to the proxy to the end of its response,
     * the proxy's handshake included.
     */
    public Result connectionRate(InetSocketAddress target, Via via, int concurrency, Duration duration) throws InterruptedException {
        Samples samples = new Samples(20_000_000);
        long start = System.nanoTime();
        long end = start + duration.toNanos();
        CountDownLatch lanes = new CountDownLatch(concurrency);
        for (int i = 0; i < concurrency; i++) {
            oneShot(target, via, transport.group().next(), samples, end, lanes);
        }
        lanes.await(duration.toSeconds() + 30, TimeUnit.SECONDS);
        double secs = (System.nanoTime() - start) / 1e9;
        return Result.of(samples.count.get(), samples.errors.get(), secs, samples.nanos, samples.size());
    }

    private void oneShot(InetSocketAddress target, Via via, EventLoop loop, Samples samples, long end, CountDownLatch lane) {
        if (System.nanoTime() >= end) {
            lane.countDown();
            return;
        }
        long t0 = System.nanoTime();
        Client client = new Client(samples, false);
        Runnable next = () -> loop.execute(() -> oneShot(target, via, loop, samples, end, lane));
        client.onDone = ok -> next.run();
        ChannelHandler handler = via == null ? client : new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast("proxy", via.handler()).addLast("client", client);
            }
        };
        Bootstrap b = bootstrap(loop, handler);
        if (via != null) {
            b.resolver(NoopAddressResolverGroup.INSTANCE);
        }
        ChannelFuture connect;
        if (via != null && via.source() != null) {
            if (Epoll.isAvailable()) { // the port is chosen at the connect, for the whole 4-tuple: a bind() alone would search past every TIME_WAIT
                b.option(io.netty.channel.epoll.EpollChannelOption.IP_BIND_ADDRESS_NO_PORT, true);
            }
            connect = b.connect(target, new InetSocketAddress(via.source(), 0));
        } else {
            connect = b.connect(target);
        }
        connect.addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                samples.errors.incrementAndGet();
                next.run();
                return;
            }
            if (via == null) {
                client.due.add(t0);
                f.channel().writeAndFlush(CLOSE.duplicate());
                return;
            }
            f.channel().pipeline().get(ProxyHandler.class).connectFuture().addListener((Future<Channel> t) -> {
                if (!t.isSuccess()) {
                    f.channel().close(); // the client's channelInactive counts the error and starts the next
                    return;
                }
                client.due.add(t0);
                f.channel().writeAndFlush(CLOSE.duplicate());
            });
        });
    }

    /** Opens {@code n} connections and keeps them open until {@link #close()}; returns how many are up. */
    public List<Channel> idle(List<InetSocketAddress> sources, InetSocketAddress target, int n) throws InterruptedException {
        List<Channel> out = new ArrayList<>();
        List<ChannelFuture> pending = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            InetSocketAddress src = sources.get(i % sources.size());
            pending.add(bootstrap(transport.group().next(), new ChannelInboundHandlerAdapter()).connect(target, src));
            if (pending.size() >= 256) {
                drain(pending, out);
            }
        }
        drain(pending, out);
        return out;
    }

    /**
     * Opens {@code n} connections to {@code target} through a proxy ({@code via}) and keeps them open
     * until {@link #close()}; returns those whose proxy connected them, 256 handshakes at a time.
     */
    public List<Channel> idle(InetSocketAddress target, Via via, int n) throws InterruptedException {
        List<Channel> out = new ArrayList<>();
        List<Future<Channel>> pending = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ChannelFuture f = bootstrap(transport.group().next(), new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel ch) {
                    ch.pipeline().addLast("proxy", via.handler());
                }
            }).resolver(NoopAddressResolverGroup.INSTANCE).connect(target);
            Promise<Channel> done = f.channel().eventLoop().newPromise();
            f.addListener((ChannelFuture c) -> {
                if (!c.isSuccess()) {
                    done.tryFailure(c.cause());
                    return;
                }
                c.channel().pipeline().get(ProxyHandler.class).connectFuture().addListener((Future<Channel> t) -> {
                    if (t.isSuccess()) {
                        done.trySuccess(c.channel());
                    } else {
                        c.channel().close();
                        done.tryFailure(t.cause());
                    }
                });
            });
            pending.add(done);
            if (pending.size() >= 256) {
                for (Future<Channel> p : pending) {
                    if (p.await(15, TimeUnit.SECONDS) && p.isSuccess()) {
                        out.add(p.getNow());
                    }
                }
                pending.clear();
            }
        }
        for (Future<Channel> p : pending) {
            if (p.await(15, TimeUnit.SECONDS) && p.isSuccess()) {
                out.add(p.getNow());
            }
        }
        return out;
    }

    private static void drain(List<ChannelFuture> pending, List<Channel> out) throws InterruptedException {
        for (ChannelFuture f : pending) {
            f.await(10, TimeUnit.SECONDS);
            if (f.isSuccess()) {
                out.add(f.channel());
            }
        }
        pending.clear();
    }

    private List<Channel> connect(InetSocketAddress target, int n, Samples samples, boolean keepAlive) throws InterruptedException {
        return connect(target, null, n, samples, keepAlive);
    }

    private List<Channel> connect(InetSocketAddress target, Via via, int n, Samples samples, boolean keepAlive) throws InterruptedException {
        List<Channel> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Client client = new Client(samples, keepAlive);
            ChannelHandler handler = via == null ? client : new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel ch) {
                    ch.pipeline().addLast("proxy", via.handler()).addLast("client", client);
                }
            };
            Bootstrap b = bootstrap(transport.group().next(), handler);
            if (via != null) {
                b.resolver(NoopAddressResolverGroup.INSTANCE); // the proxy connects to the target
            }
            ChannelFuture f = b.connect(target).await();
            if (!f.isSuccess()) {
                throw new IllegalStateException("cannot connect to " + target + (via == null ? "" : " via " + via) + ": " + f.cause());
            }
            if (via != null) {
                Future<Channel> tunnel = f.channel().pipeline().get(ProxyHandler.class).connectFuture().await();
                if (!tunnel.isSuccess()) {
                    f.channel().close();
                    throw new IllegalStateException(via.protocol() + " proxy " + via.proxy() + " did not connect to " + target + ": "
                            + tunnel.cause());
                }
            }
            out.add(f.channel());
        }
        return out;
    }

    private Bootstrap bootstrap(EventLoop loop, ChannelHandler handler) {
        return new Bootstrap().group(loop).channel(transport.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
                .handler(handler);
    }

    @Override
    public void close() {
        transport.close();
    }

    /** Sends requests and records each response's latency. */
    private static final class Client extends ChannelInboundHandlerAdapter {
        final Samples samples;
        final boolean keepAlive;
        final Times due = new Times();
        final ResponseReader reader = new ResponseReader();
        long closedLoopUntil;
        boolean sendNextTurn;
        java.util.function.Consumer<Boolean> onDone;
        private boolean finished;

        Client(Samples samples, boolean keepAlive) {
            this.samples = samples;
            this.keepAlive = keepAlive;
        }

        void sendNow(Channel ch) {
            due.add(System.nanoTime());
            ch.writeAndFlush(KEEP_ALIVE.duplicate());
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                for (int n = reader.read(buf); n > 0; n--) {
                    responseDone(ctx);
                }
            } finally {
                buf.release();
            }
        }

        private void responseDone(ChannelHandlerContext ctx) {
            if (!due.isEmpty()) {
                samples.add(System.nanoTime() - due.poll());
            }
            if (!keepAlive) {
                finished = true;
                ctx.close();
                return;
            }
            if (closedLoopUntil != 0 && System.nanoTime() < closedLoopUntil) {
                Channel ch = ctx.channel();
                if (sendNextTurn) {
                    ch.eventLoop().execute(() -> sendNow(ch));
                } else {
                    sendNow(ch);
                }
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!keepAlive) {
                if (!finished) {
                    samples.errors.incrementAndGet();
                }
                if (onDone != null) {
                    onDone.accept(finished);
                }
            } else if (!due.isEmpty() && closedLoopUntil != 0 && System.nanoTime() < closedLoopUntil) {
                samples.errors.incrementAndGet();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
