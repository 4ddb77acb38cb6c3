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
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Locale;

/**
 * An HTTP proxy port: {@code CONNECT host:port} (a tunnel, answered 200 once the edge has
 * connected) and absolute-form requests ({@code GET http://host/path}, sent on in origin form
 * without the proxy's own headers). Credentials come as {@code Proxy-Authorization: Basic}; a
 * request without valid ones is answered 407 with {@code Proxy-Authenticate}. Failures are answered
 * with the status and an RFC 9209 {@code Proxy-Status} header that names what failed
 * ({@link ProxyFailure}).
 *
 * <p>An absolute-form request is sent on with {@code Connection: close}: the connection carries
 * that one request to its origin, and the client opens another for the next, so that a request to
 * another host never rides on a connection relayed to the first one.
 */
final class HttpProxyIngress extends Ingress {
    private static final String ESTABLISHED = "HTTP/1.1 200 Connection established\r\n\r\n";
    private final PopContext pop;
    /** 0-RTT for CONNECT: how long to wait for the client's first bytes after answering 200 at once; null: answer once connected. */
    private final Duration zeroRtt;
    private String refusal;
    private final FirstFlight flight;
    private HttpHead head;
    private boolean connect;
    private String origin;

    HttpProxyIngress(String listener, Forwarder forwarder, Duration timeout, PopContext pop, Duration zeroRtt) {
        super(listener, forwarder, timeout);
        this.pop = pop;
        this.zeroRtt = zeroRtt;
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
        String user = user(ctx, h);
        if (user == null) {
            pop.meters.authFailed("http");
            in.skipBytes(in.readableBytes());
            HttpIngress.respond(ctx.channel(), 407, "Proxy-Authenticate: Basic realm=\"titan\"\r\n",
                    refusal != null ? refusal : "proxy credentials are missing or wrong");
            return null;
        }
        ProxyFailure limited = pop.admit(user, ctx.channel());
        if (limited != null) {
            in.skipBytes(in.readableBytes());
            HttpIngress.respond(ctx.channel(), limited.httpStatus(), "Proxy-Status: " + limited.proxyStatus() + "\r\n", limited.detail());
            return null;
        }
        head = h;
        String host;
        int port;
        if (h.method().equals("CONNECT")) {
            connect = true;
            String t = h.target();
            int colon = t.lastIndexOf(':');
            if (colon <= 0) {
                throw new Malformed(400, "CONNECT needs host:port");
            }
            host = t.substring(0, colon);
            port = parsePort(t.substring(colon + 1));
        } else {
            URI uri;
            try {
                uri = new URI(h.target());
            } catch (URISyntaxException e) {
                throw new Malformed(400, "not an absolute URI: " + h.target());
            }
            if (!"http".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
                throw new Malformed(400, "a proxy request needs an absolute http:// URI (https goes through CONNECT)");
            }
            host = uri.getHost();
            port = uri.getPort() < 0 ? 80 : uri.getPort();
            String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
            origin = uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery();
        }
        if (host.isEmpty() || port < 1) {
            throw new Malformed(400, "no target host or port");
        }
        DestinationRequest r = DestinationRequest.of(listener, ctx.channel(), DestinationRequest.HTTP).withUser(user).withTarget(host, port);
        if (connect && zeroRtt != null) {
            ctx.writeAndFlush(Unpooled.copiedBuffer(ESTABLISHED, StandardCharsets.ISO_8859_1));
            flight.start(ctx, r, () -> decideNow(ctx));
            return in.readableBytes() > h.length() ? r : null;
        }
        return r;
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

    private String user(ChannelHandlerContext ctx, HttpHead h) {
        String auth = h.header("proxy-authorization");
        if (auth != null && auth.regionMatches(true, 0, "Basic ", 0, 6)) {
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(auth.substring(6).strip()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return null;
            }
            int colon = decoded.indexOf(':');
            if (colon < 0) {
                return null;
            }
            try {
                return pop.authenticate(decoded.substring(0, colon), decoded.substring(colon + 1).getBytes(StandardCharsets.UTF_8));
            } catch (IllegalArgumentException e) {
                refusal = "username: " + e.getMessage();
                return null;
            }
        }
        return pop.users.bySource((InetSocketAddress) ctx.channel().remoteAddress());
    }

    @Override
    protected ByteBuf firstBytes(ChannelHandlerContext ctx, ByteBuf in, DestinationRequest request) {
        if (flight != null) {
            flight.done();
        }
        in.skipBytes(head.length());
        pop.browserInfo(request, head, in);
        ByteBuf rest = in.readRetainedSlice(in.readableBytes());
        if (connect) {
            return rest; // whatever the client sent after CONNECT (0-RTT clients) goes first
        }
        StringBuilder b = new StringBuilder(head.length() + 32).append(head.method()).append(' ').append(origin).append(' ')
                .append(head.version()).append("\r\n");
        for (String[] hdr : head.headers()) {
            String name = hdr[0].toLowerCase(Locale.ROOT);
            if (!name.startsWith("proxy-") && !name.equals("connection") && !name.equals("keep-alive")) {
                b.append(hdr[0]).append(": ").append(hdr[1]).append("\r\n");
            }
        }
        b.append("Connection: close\r\n\r\n");
        return Unpooled.wrappedBuffer(Unpooled.copiedBuffer(b, StandardCharsets.ISO_8859_1), rest);
    }

    @Override
    protected void connected(Channel client, Router.Route route, Cluster.Connection up) {
        pop.connected(route.request(), client, route.cluster(), up);
        if (connect && (flight == null || !flight.answered())) {
            client.writeAndFlush(Unpooled.copiedBuffer(ESTABLISHED, StandardCharsets.ISO_8859_1), client.voidPromise());
        }
    }

    @Override
    protected void refused(Channel client, Router.Route route, Throwable cause) {
        ProxyFailure f = PopContext.failure(route.eligible(), cause);
        pop.meters.failed(f.error());
        PopLog.failed(route.request(), f);
        if (flight != null && flight.answered()) {
            client.close(); // 0-RTT: 200 went out already; the log says why
            return;
        }
        if (client.isActive()) {
            HttpIngress.respond(client, f.httpStatus(), "Proxy-Status: " + f.proxyStatus() + "\r\n", f.detail());
        }
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
