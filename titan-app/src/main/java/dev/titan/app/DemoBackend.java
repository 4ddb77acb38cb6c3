package dev.titan.app;

import dev.titan.core.net.Transport;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/** A local HTTP server for {@code titan demo} that answers after a configurable delay. */
final class DemoBackend implements AutoCloseable {
    private final String name;
    private volatile long delayMillis;
    private final AtomicLong served = new AtomicLong();
    private final Channel server;

    DemoBackend(Transport transport, String name, long delayMillis) {
        this.name = name;
        this.delayMillis = delayMillis;
        this.server = transport.serverBootstrap()
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(65536), new Handler());
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
    }

    String name() {
        return name;
    }

    int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    long delayMillis() {
        return delayMillis;
    }

    void delayMillis(long d) {
        delayMillis = d;
    }

    long served() {
        return served.get();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            boolean probe = "titan-probe".equals(req.headers().get(HttpHeaderNames.USER_AGENT));
            ctx.executor().schedule(() -> {
                if (!probe) {
                    served.incrementAndGet();
                }
                FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                        Unpooled.copiedBuffer("hello from " + name + " (" + delayMillis + " ms)\n", StandardCharsets.UTF_8));
                res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
                HttpUtil.setContentLength(res, res.content().readableBytes());
                HttpUtil.setKeepAlive(res, keepAlive);
                var f = ctx.writeAndFlush(res);
                if (!keepAlive) {
                    f.addListener(io.netty.channel.ChannelFutureListener.CLOSE);
                }
            }, delayMillis, TimeUnit.MILLISECONDS);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
