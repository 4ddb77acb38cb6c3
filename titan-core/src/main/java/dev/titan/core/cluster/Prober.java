package dev.titan.core.cluster;

import dev.titan.core.config.ClusterConfig;
import dev.titan.core.config.HostPort;
import dev.titan.core.net.TcpConnector;
import dev.titan.core.time.Clock;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Active health probes. {@code none}: no check, every endpoint passes (for UDP services, whose
 * health shows only in real traffic). {@code tcp}: the time to complete a TCP connect. {@code http}: connect, send
 * {@code GET path}, and wait for a status line in the expected range; the sample is the time to the
 * status line, so a backend that accepts quickly but answers slowly scores as slow.
 */
public final class Prober {
    /** The outcome of one probe. */
    public record Result(boolean success, long latencyNanos, String error) {
    }

    private final TcpConnector connector;
    private final Clock clock;

    public Prober(TcpConnector connector, Clock clock) {
        this.connector = connector;
        this.clock = clock;
    }

    public Promise<Result> probe(InetSocketAddress address, ClusterConfig.Probing config, Duration timeout, EventLoop loop) {
        Promise<Result> promise = loop.newPromise();
        if (config.type().equals("none")) {
            // no active checks (UDP services, or endpoints judged by real traffic only): always passing
            return promise.setSuccess(new Result(true, 0, null));
        }
        long start = clock.nanos();
        ChannelFuture cf = connector.connect(address, loop, timeout);
        ScheduledFuture<?> deadline = loop.schedule(() -> {
            if (promise.trySuccess(new Result(false, 0, "timeout"))) {
                cf.channel().close();
            }
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
        promise.addListener(f -> deadline.cancel(false));
        cf.addListener(done -> {
            if (!done.isSuccess()) {
                promise.trySuccess(new Result(false, 0, String.valueOf(done.cause().getMessage())));
                return;
            }
            Channel ch = cf.channel();
            if (config.type().equals("tcp")) {
                promise.trySuccess(new Result(true, clock.nanos() - start, null));
                ch.close();
                return;
            }
            ch.pipeline().addLast(new StatusLineReader(promise, start, config));
            ch.config().setAutoRead(true);
            String host = config.httpHost() != null ? config.httpHost() : HostPort.format(address);
            String request = "GET " + config.httpPath() + " HTTP/1.1\r\nHost: " + host
                    + "\r\nUser-Agent: titan-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n";
            ch.writeAndFlush(Unpooled.copiedBuffer(request, StandardCharsets.US_ASCII));
            promise.addListener(f -> ch.close());
        });
        return promise;
    }

    /** Reads just enough of the response for its status line. */
    private final class StatusLineReader extends ChannelInboundHandlerAdapter {
        private final Promise<Result> promise;
        private final long start;
        private final ClusterConfig.Probing config;
        private final StringBuilder line = new StringBuilder();

        StatusLineReader(Promise<Result> promise, long start, ClusterConfig.Probing config) {
            this.promise = promise;
            this.start = start;
            this.config = config;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                while (buf.isReadable() && !promise.isDone()) {
                    char c = (char) buf.readByte();
                    if (c == '\n' || line.length() > 256) {
                        finish(line.toString().trim());
                        return;
                    }
                    line.append(c);
                }
            } finally {
                buf.release();
            }
        }

        private void finish(String status) {
            String[] parts = status.split(" ", 3);
            int code = -1;
            if (parts.length >= 2 && parts[0].startsWith("HTTP/")) {
                try {
                    code = Integer.parseInt(parts[1]);
                } catch (NumberFormatException ignored) {
                    // reported below
                }
            }
            if (code >= config.httpExpectMin() && code <= config.httpExpectMax()) {
                promise.trySuccess(new Result(true, clock.nanos() - start, null));
            } else {
                promise.trySuccess(new Result(false, 0, code < 0 ? "not an HTTP response" : "status " + code));
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            promise.trySuccess(new Result(false, 0, "closed before a status line"));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            promise.trySuccess(new Result(false, 0, cause.toString()));
            ctx.close();
        }
    }
}
