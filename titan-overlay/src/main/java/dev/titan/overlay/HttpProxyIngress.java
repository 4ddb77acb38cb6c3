package dev.titan.overlay;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.ingress.Forwarder;
import dev.titan.core.ingress.HttpHead;
import dev.titan.core.ingress.HttpIngress;
import dev.titan.core.ingress.Ingress;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * An HTTP proxy port: {@code CONNECT host:port} (a tunnel, answered 200 once the edge has
 * connected, or at once with 0-RTT) here, and absolute-form requests ({@code GET http://host/path})
 * handed to {@link HttpProxyExchanges}, which keeps the connection alive across them. Credentials
 * come as {@code Proxy-Authorization: Basic}; a request without valid ones is answered 407 with
 * {@code Proxy-Authenticate}. Failures are answered with the status and an RFC 9209
 * {@code Proxy-Status} header that names what failed ({@link ProxyFailure}).
 */
final class HttpProxyIngress extends Ingress {
    private static final String ESTABLISHED = "HTTP/1.1 200 Connection established\r\n\r\n";
    private final PopContext pop;
    /** 0-RTT for CONNECT: how long to wait for the client's first bytes after answering 200 at once; null: answer once connected. */
    private final Duration zeroRtt;
    private final FirstFlight flight;
    private final Duration timeout;
    private final Duration keepAlive;
    private HttpHead head;

    /** {@code keepAlive}: how long a connection of absolute-form requests may wait for its next request. */
    HttpProxyIngress(String listener, Forwarder forwarder, Duration timeout, PopContext pop, Duration zeroRtt, Duration keepAlive) {
        super(listener, forwarder, timeout);
        this.pop = pop;
        this.zeroRtt = zeroRtt;
        this.timeout = timeout;
        this.keepAlive = keepAlive;
        this.flight = zeroRtt == null ? null : new FirstFlight(zeroRtt);
    }

    @Override
    protected DestinationRequest decide(ChannelHandlerContext ctx, ByteBuf in) throws Malformed {
        if (flight != null && flight.answered()) { // answered at once: the request waits for the client's first bytes, or the timer
            return flight.ready(in.readableBytes() > head.length());
        }
        HttpHead h = HttpHead.read(in);
        if (h == null) {
            return null;
        }
        if (!h.method().equals("CONNECT")) {
            ctx.pipeline().addAfter(ctx.name(), null, new HttpProxyExchanges(listener, forwarder, pop, keepAlive,
                    () -> new HttpProxyIngress(listener, forwarder, timeout, pop, zeroRtt, keepAlive)));
            ctx.pipeline().remove(this); // what was read goes on to it
            return null;
        }
        PopContext.HttpUser who = pop.httpUser(h, ctx.channel());
        String user = who.user();
        if (user == null) {
            pop.meters.authFailed("http");
            in.skipBytes(in.readableBytes());
            askForCredentials(ctx.channel(), who.refusal());
            return null;
        }
        ProxyFailure limited = pop.admit(user, ctx.channel());
        if (limited != null) {
            in.skipBytes(in.readableBytes());
            limited.answerHttp(ctx.channel());
            return null;
        }
        head = h;
        String t = h.target();
        int colon = t.lastIndexOf(':');
        if (colon <= 0) {
            throw new Malformed(400, "CONNECT needs host:port");
        }
        String host = t.startsWith("[") && t.charAt(colon - 1) == ']' ? t.substring(1, colon - 1) : t.substring(0, colon);
        int port = parsePort(t.substring(colon + 1));
        if (host.isEmpty()) {
            throw new Malformed(400, "no target host");
        }
        DestinationRequest r = DestinationRequest.of(listener, ctx.channel(), DestinationRequest.HTTP).withUser(user).withTarget(host, port);
        if (zeroRtt != null) {
            ctx.writeAndFlush(Unpooled.copiedBuffer(ESTABLISHED, StandardCharsets.ISO_8859_1));
            flight.start(ctx, r, () -> decideNow(ctx));
            return in.readableBytes() > h.length() ? r : null;
        }
        return r;
    }

    /** Answers 407 with {@code Proxy-Authenticate}, saying {@code why}, then closes. */
    static void askForCredentials(Channel client, String why) {
        HttpIngress.respond(client, 407, "Proxy-Authenticate: Basic realm=\"titan\"\r\n", why);
    }

    private static int parsePort(String s) throws Malformed {
        try {
            int p = Integer.parseInt(s);
            if (p >= 1 && p <= 65_535) {
                return p;
            }
        } catch (NumberFormatException e) {
            // fall through
        }
        throw new Malformed(400, "not a port: " + s);
    }

    @Override
    protected ByteBuf firstBytes(ChannelHandlerContext ctx, ByteBuf in, DestinationRequest request) {
        if (flight != null) {
            flight.done();
        }
        in.skipBytes(head.length());
        pop.browserInfo(request, head, in);
        return in.readRetainedSlice(in.readableBytes()); // whatever the client sent after CONNECT (0-RTT clients) goes first
    }

    @Override
    protected void connected(Channel client, Router.Route route, Cluster.Connection up) {
        pop.connected(route.request(), client, route.cluster(), up);
        if (flight == null || !flight.answered()) {
            client.writeAndFlush(Unpooled.copiedBuffer(ESTABLISHED, StandardCharsets.ISO_8859_1), client.voidPromise());
        }
    }

    @Override
    protected void refused(Channel client, Router.Route route, Throwable cause) {
        ProxyFailure f = pop.failed(route, cause);
        if (flight != null && flight.answered()) {
            client.close(); // 0-RTT: 200 went out already; the log says why
            return;
        }
        f.answerHttp(client);
    }

    @Override
    protected void noRoute(ChannelHandlerContext ctx, ByteBuf in, DestinationRequest request) {
        forwarder.error("no_route");
        in.skipBytes(in.readableBytes());
        HttpIngress.respond(ctx.channel(), 503, "no edge serves this request");
    }

    @Override
    protected void malformed(ChannelHandlerContext ctx, Malformed problem) {
        HttpIngress.respond(ctx.channel(), problem.status(), "Proxy-Status: titan; error=http_request_error\r\n", problem.getMessage());
    }
}
