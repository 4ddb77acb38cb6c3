package dev.titan.tunnel;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ByteProcessor;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * Exposure by HTTP Host (GT's way): reads only the first request's head, finds the client whose
 * host it names, adds X-Forwarded-For / -Proto / -Host to that head, then relays the connection
 * blindly through a stream. Later requests on a keep-alive connection go to the same client
 * unchanged (the head is not parsed again). A head larger than {@value #MAX_HEAD} bytes, a
 * missing Host, or a host no tunnel serves get an HTTP error and the connection closes.
 */
final class HttpIngress extends TimedHandshake {
    static final int MAX_HEAD = 16 * 1024;
    private static final byte[] END_OF_HEAD = {'\r', '\n', '\r', '\n'};

    private final TunnelServer server;
    private final boolean secure;
    private boolean decided;
    private final HeldInputEnd inputEnd = new HeldInputEnd();

    /** {@code secure}: the connection came through TLS this server terminated (X-Forwarded-Proto: https). */
    HttpIngress(TunnelServer server, Duration headTimeout, boolean secure) {
        super(headTimeout);
        this.server = server;
        this.secure = secure;
    }

    @Override
    protected void timedOut(ChannelHandlerContext ctx) {
        // a client that never finishes its request head: closed (a 408 would invite slowloris to wait for it)
    }

    /** A FIN while the stream is being opened waits for the relay (HTTP/1.0 clients may half-close after the request). */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (!(decided && inputEnd.hold(evt))) {
            super.userEventTriggered(ctx, evt);
        }
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (decided) {
            return; // bytes that arrive before the hand-over stay in the cumulation and follow the head
        }
        int end = endOfHead(in);
        if (end < 0) {
            if (in.readableBytes() > MAX_HEAD) {
                reject(ctx, in, 431, "Request Header Fields Too Large", "request head larger than " + MAX_HEAD + " bytes");
            }
            return;
        }
        decided = true;
        stopClock();
        int headLength = end - in.readerIndex();
        String head = in.toString(in.readerIndex(), headLength, StandardCharsets.ISO_8859_1);
        if (WebSockets.hasToken(header(head, "upgrade"), "websocket") && server.wsPath().equals(path(head))) {
            upgradeToTunnel(ctx, in, head, headLength);
            return;
        }
        String host = header(head, "host");
        if (host == null || host.isBlank()) {
            reject(ctx, in, 400, "Bad Request", "no Host header");
            return;
        }
        String name = stripPort(host.trim()).toLowerCase(Locale.ROOT);
        DestinationRequest request = DestinationRequest.of(LISTENER, ctx.channel(), DestinationRequest.HTTP).withHttp(name, path(head));
        Router.Route routed = server.router().route(request);
        if (routed == null) {
            reject(ctx, in, 404, "Not Found", "no tunnel serves " + name);
            return;
        }
        InetSocketAddress from = (InetSocketAddress) ctx.channel().remoteAddress();
        ByteBuf rewritten = Unpooled.copiedBuffer(forwarded(head, from, host.trim(), secure), StandardCharsets.ISO_8859_1);
        in.skipBytes(headLength + END_OF_HEAD.length);
        ByteBuf rest = in.readRetainedSlice(in.readableBytes());
        ctx.channel().config().setAutoRead(false);
        // the head and what came with it are the stream's first flight: sent at once, and again to
        // another replica if this one cannot serve the request
        Router.Route route = new Router.Route(routed.cluster(), routed.request().withFirstBytes(Unpooled.wrappedBuffer(rewritten, rest)));
        server.connect(route, ctx.channel()).addListener((Future<Cluster.Connection> f) -> ctx.executor().execute(() -> {
            route.request().release();
            handOver(ctx, f, route.cluster());
        }));
    }

    /** The listener name the server's ingresses give their requests. */
    static final String LISTENER = "tunnel_server";

    private void handOver(ChannelHandlerContext ctx, Future<Cluster.Connection> f, Cluster cluster) {
        if (!f.isSuccess() || !ctx.channel().isActive()) {
            if (f.isSuccess()) {
                f.getNow().channel().close();
            } else if (ctx.channel().isActive()) {
                Throwable cause = f.cause();
                String client = cluster.name().substring(TunnelRegistry.CLUSTER_PREFIX.length());
                if (cause instanceof TunnelServer.LimitReached) {
                    respond(ctx, 503, "Service Unavailable", "too many connections to this service; try again later");
                } else if (cause instanceof Cluster.NoEndpointException) {
                    respond(ctx, 503, "Service Unavailable", "no tunnel of client " + client + " is connected; try again later");
                } else if (cause instanceof TunnelConnector.Refused r && r.status.equals("503")) {
                    respond(ctx, 503, "Service Unavailable", "the tunnel's client is too busy; try again later");
                } else if (cause instanceof TunnelConnector.NotPublished) {
                    respond(ctx, 502, "Bad Gateway", "the tunnel's client does not publish this service");
                } else if (cause instanceof TunnelConnector.Refused) {
                    respond(ctx, 502, "Bad Gateway", "the tunnel's client cannot reach its local service");
                } else {
                    respond(ctx, 502, "Bad Gateway", "the tunnel could not open a stream");
                }
            }
            return;
        }
        server.relay(ctx.channel(), f.getNow(), cluster, cluster.name().substring(TunnelRegistry.CLUSTER_PREFIX.length()));
        ctx.pipeline().remove(this); // anything read meanwhile follows the first flight, in order
        inputEnd.passOn(ctx);
    }

    /** A WebSocket upgrade on the tunnel path: answered with 101, then the connection is a tunnel (ws:// and wss://). */
    private void upgradeToTunnel(ChannelHandlerContext ctx, ByteBuf in, String head, int headLength) {
        String key = header(head, "sec-websocket-key");
        if (key == null || !"13".equals(header(head, "sec-websocket-version")) || !WebSockets.hasToken(header(head, "connection"), "upgrade")) {
            reject(ctx, in, 400, "Bad Request", "a tunnel upgrade needs Connection: Upgrade, Sec-WebSocket-Key and Sec-WebSocket-Version: 13");
            return;
        }
        in.skipBytes(headLength + END_OF_HEAD.length);
        String response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
                + WebSockets.accept(key) + "\r\n\r\n";
        ctx.writeAndFlush(Unpooled.copiedBuffer(response, StandardCharsets.US_ASCII));
        server.becomeWebSocketTunnel(ctx);
        ctx.pipeline().remove(this); // frames that followed the request go on to the frame decoder
    }

    /** The request target's path (no query) from the request line. */
    static String path(String head) {
        int sp1 = head.indexOf(' ');
        int sp2 = sp1 < 0 ? -1 : head.indexOf(' ', sp1 + 1);
        int eol = head.indexOf('\r');
        if (sp1 < 0 || sp2 < 0 || (eol >= 0 && sp2 > eol)) {
            return "";
        }
        String target = head.substring(sp1 + 1, sp2);
        int q = target.indexOf('?');
        return q >= 0 ? target.substring(0, q) : target;
    }

    private void reject(ChannelHandlerContext ctx, ByteBuf in, int status, String reason, String message) {
        decided = true;
        stopClock();
        in.skipBytes(in.readableBytes());
        respond(ctx, status, reason, message);
    }

    private static void respond(ChannelHandlerContext ctx, int status, String reason, String message) {
        byte[] body = (message + "\n").getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
                + body.length + "\r\nConnection: close\r\n\r\n";
        ByteBuf buf = ctx.alloc().buffer(head.length() + body.length);
        buf.writeCharSequence(head, StandardCharsets.ISO_8859_1);
        buf.writeBytes(body);
        ctx.writeAndFlush(buf).addListener(ChannelFutureListener.CLOSE);
    }

    /** The index just past the head's last header line (where "\r\n\r\n" starts), or -1. */
    static int endOfHead(ByteBuf in) {
        int limit = Math.min(in.readableBytes(), MAX_HEAD + END_OF_HEAD.length);
        int[] matched = {0};
        int i = in.forEachByte(in.readerIndex(), limit, (ByteProcessor) b -> {
            matched[0] = b == END_OF_HEAD[matched[0]] ? matched[0] + 1 : (b == '\r' ? 1 : 0);
            return matched[0] < END_OF_HEAD.length;
        });
        return i < 0 ? -1 : i - END_OF_HEAD.length + 1;
    }

    /** The value of the first header {@code name} (lower case) in {@code head}, or null. */
    static String header(String head, String name) {
        for (String line : head.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
                return line.substring(colon + 1).trim();
            }
        }
        return null;
    }

    static String stripPort(String host) {
        if (host.startsWith("[")) { // [v6]:port
            int close = host.indexOf(']');
            return close > 0 ? host.substring(1, close) : host;
        }
        int colon = host.lastIndexOf(':');
        return colon > 0 && host.indexOf(':') == colon ? host.substring(0, colon) : host;
    }

    /** The head with X-Forwarded-For appended to (or added), X-Forwarded-Proto and X-Forwarded-Host set. */
    static String forwarded(String head, InetSocketAddress from, String host, boolean secure) {
        String ip = from.getAddress().getHostAddress();
        StringBuilder b = new StringBuilder(head.length() + 96);
        boolean sawFor = false;
        String[] lines = head.split("\r\n");
        b.append(lines[0]).append("\r\n");
        for (int i = 1; i < lines.length; i++) {
            String line = lines[i];
            int colon = line.indexOf(':');
            String name = colon > 0 ? line.substring(0, colon).trim().toLowerCase(Locale.ROOT) : "";
            switch (name) {
                case "x-forwarded-for" -> {
                    b.append(line.trim()).append(", ").append(ip).append("\r\n");
                    sawFor = true;
                }
                case "x-forwarded-proto", "x-forwarded-host" -> {
                    // replaced below: a client must not choose what the service believes about the hop it arrived on
                }
                default -> b.append(line).append("\r\n");
            }
        }
        if (!sawFor) {
            b.append("X-Forwarded-For: ").append(ip).append("\r\n");
        }
        b.append("X-Forwarded-Proto: ").append(secure ? "https" : "http").append("\r\n");
        b.append("X-Forwarded-Host: ").append(host).append("\r\n");
        return b.append("\r\n").toString();
    }
}
