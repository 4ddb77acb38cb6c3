package dev.titan.core.admin;

import dev.titan.core.net.Transport;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.ReadTimeoutHandler;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The small HTTP/1.1 server of Titan's own endpoints (metrics, health, admin API; not the L7 gateway). Routes are
 * {@code METHOD path}; a service built with a token requires {@code Authorization: Bearer TOKEN}
 * on every route not marked public, compared in constant time.
 */
public final class AdminHttp implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminHttp.class);

    /** A response body and its type. */
    public record Response(int status, String contentType, String body) {
        public static Response json(String body) {
            return new Response(200, "application/json", body);
        }

        public static Response text(int status, String body) {
            return new Response(status, "text/plain; charset=utf-8", body);
        }
    }

    /** A request as routes see it. */
    public record Request(HttpMethod method, String path, Map<String, java.util.List<String>> query, String body) {
        public String param(String name) {
            java.util.List<String> v = query.get(name);
            return v == null || v.isEmpty() ? null : v.get(0);
        }
    }

    private record Route(Function<Request, CompletableFuture<Response>> handler, boolean isPublic) {
    }

    private final String name;
    private final byte[] token;
    private final Map<String, Route> routes = new LinkedHashMap<>();
    private Channel server;

    /** {@code token} null means no route needs one. */
    public AdminHttp(String name, String token) {
        this.name = name;
        this.token = token == null ? null : token.getBytes(StandardCharsets.UTF_8);
    }

    public AdminHttp route(String method, String path, Function<Request, CompletableFuture<Response>> handler) {
        routes.put(method + " " + path, new Route(handler, false));
        return this;
    }

    /** A route that needs no token (health checks). */
    public AdminHttp publicRoute(String method, String path, Function<Request, CompletableFuture<Response>> handler) {
        routes.put(method + " " + path, new Route(handler, true));
        return this;
    }

    public InetSocketAddress start(Transport transport, InetSocketAddress address) {
        server = transport.serverBootstrap()
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline()
                                .addLast("timeout", new ReadTimeoutHandler(60))
                                .addLast("codec", new HttpServerCodec(4096, 8192, 8192))
                                .addLast("aggregate", new HttpObjectAggregator(1 << 20))
                                .addLast("routes", new Handler());
                    }
                })
                .bind(address).syncUninterruptibly().channel();
        InetSocketAddress bound = (InetSocketAddress) server.localAddress();
        log.info("{} listening on http://{}", name, dev.titan.core.config.HostPort.format(bound));
        return bound;
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    @Override
    public void close() {
        if (server != null) {
            server.close().syncUninterruptibly();
        }
    }

    /** Constant-time check of a bearer token. */
    static boolean tokenMatches(byte[] expected, String header) {
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        byte[] given = header.substring(7).trim().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(expected, given);
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            if (!req.decoderResult().isSuccess()) {
                send(ctx, Response.text(400, "bad request\n"), false);
                return;
            }
            QueryStringDecoder qs = new QueryStringDecoder(req.uri());
            Route route = routes.get(req.method().name() + " " + qs.path());
            if (route == null) {
                boolean pathKnown = routes.keySet().stream().anyMatch(k -> k.endsWith(" " + qs.path()));
                send(ctx, pathKnown ? Response.text(405, "method not allowed\n") : Response.text(404, "not found\n"), keepAlive);
                return;
            }
            if (!route.isPublic && token != null && !tokenMatches(token, req.headers().get(HttpHeaderNames.AUTHORIZATION))) {
                send(ctx, Response.text(401, "missing or wrong bearer token\n"), keepAlive);
                return;
            }
            Request r = new Request(req.method(), qs.path(), qs.parameters(), req.content().toString(StandardCharsets.UTF_8));
            CompletableFuture<Response> f;
            try {
                f = route.handler.apply(r);
            } catch (RuntimeException e) {
                f = CompletableFuture.failedFuture(e);
            }
            f.whenComplete((resp, err) -> ctx.executor().execute(() -> {
                if (err != null) {
                    log.warn("{}: {} {} failed", name, req.method(), qs.path(), err);
                    send(ctx, Response.text(500, "internal error\n"), keepAlive);
                } else {
                    send(ctx, resp, keepAlive);
                }
            }));
        }

        private void send(ChannelHandlerContext ctx, Response r, boolean keepAlive) {
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(r.status()),
                    Unpooled.copiedBuffer(r.body(), StandardCharsets.UTF_8));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType());
            res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, res.content().readableBytes());
            if (keepAlive) {
                res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
                ctx.writeAndFlush(res);
            } else {
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
