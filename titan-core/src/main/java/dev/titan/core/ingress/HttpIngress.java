package dev.titan.core.ingress;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.net.Connector;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Routing by HTTP Host: reads the first request's head ({@link HttpHead}, strictly), routes on its
 * Host and path, adds X-Forwarded-For / -Proto / -Host to that head, and then relays the
 * connection as it is: later requests on a keep-alive connection go to the same cluster unparsed.
 * Problems are answered in HTTP before the connection closes: 400 for a head that is not plain
 * HTTP/1 (see {@link HttpHead}), 431 for one over {@value HttpHead#MAX_LENGTH} bytes, 404 when no
 * route serves the host, 503 when its cluster has no endpoint or declines, 502 when the endpoint
 * fails. A head that does not finish within the timeout is closed unanswered.
 */
public class HttpIngress extends Ingress {
    private final boolean secure;
    private HttpHead head;

    /** {@code secure}: the connection came through TLS this process terminated (X-Forwarded-Proto: https). */
    public HttpIngress(String listener, Forwarder forwarder, Duration headTimeout, boolean secure) {
        super(listener, forwarder, headTimeout);
        this.secure = secure;
    }

    @Override
    protected final DestinationRequest decide(ChannelHandlerContext ctx, ByteBuf in) throws Malformed {
        HttpHead h = HttpHead.read(in);
        if (h == null || served(ctx, in, h)) {
            return null;
        }
        head = h;
        String protocol = h.hasToken("upgrade", "websocket") ? DestinationRequest.WEBSOCKET : DestinationRequest.HTTP;
        return DestinationRequest.of(listener, ctx.channel(), protocol).withHttp(h.host(), h.path());
    }

    /**
     * A request this ingress serves itself rather than routes (a protocol upgrade the listener
     * owns): true once it has answered and removed this handler. None by default.
     */
    protected boolean served(ChannelHandlerContext ctx, ByteBuf in, HttpHead head) throws Malformed {
        return false;
    }

    @Override
    protected final ByteBuf firstBytes(ChannelHandlerContext ctx, ByteBuf in, DestinationRequest request) {
        ByteBuf rewritten = Unpooled.copiedBuffer(head.forwarded(ctx.channel().remoteAddress() instanceof InetSocketAddress a ? a : null, secure),
                StandardCharsets.ISO_8859_1);
        in.skipBytes(head.length());
        return Unpooled.wrappedBuffer(rewritten, in.readRetainedSlice(in.readableBytes()));
    }

    @Override
    protected void noRoute(ChannelHandlerContext ctx, ByteBuf in, DestinationRequest request) {
        forwarder.error("no_route");
        in.skipBytes(in.readableBytes());
        respond(ctx.channel(), 404, request.httpHost() == null ? "no route for a request without a Host"
                : "nothing here serves " + request.httpHost());
    }

    @Override
    protected final void refused(Channel client, Router.Route route, Throwable cause) {
        if (client.isActive()) {
            respond(client, status(cause), reason(route, cause));
        }
    }

    /** The status for a refusal: 503 when nothing could take the request now, else 502. */
    protected int status(Throwable cause) {
        return cause instanceof Cluster.NoEndpointException || cause instanceof Connector.Declined ? 503 : 502;
    }

    /** The body of a refusal: why, in words a user of the service can act on. */
    protected String reason(Router.Route route, Throwable cause) {
        DestinationRequest request = route.request();
        if (cause instanceof Cluster.NoEndpointException) {
            return "no endpoint serves " + request.httpHost() + " now; try again later";
        }
        if (cause instanceof Connector.Declined d) {
            return d.getMessage() + "; try again later";
        }
        return "the upstream of " + request.httpHost() + " could not be reached";
    }

    @Override
    protected void malformed(ChannelHandlerContext ctx, Malformed problem) {
        respond(ctx.channel(), problem.status(), problem.getMessage());
    }

    /** Answers {@code status} with {@code message} as a text body, then closes. */
    public static void respond(Channel ch, int status, String message) {
        respond(ch, status, "", message);
    }

    /** The same with {@code extraHeaders} (whole lines, each ending in CRLF) before the body's headers. */
    public static void respond(Channel ch, int status, String extraHeaders, String message) {
        byte[] body = (message + "\n").getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + status + " " + reasonPhrase(status) + "\r\n" + extraHeaders
                + "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n";
        ByteBuf buf = ch.alloc().buffer(head.length() + body.length);
        buf.writeCharSequence(head, StandardCharsets.ISO_8859_1);
        buf.writeBytes(body);
        ch.writeAndFlush(buf).addListener(ChannelFutureListener.CLOSE);
    }

    private static String reasonPhrase(int status) {
        return switch (status) {
            case 400 -> "Bad Request";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 407 -> "Proxy Authentication Required";
            case 431 -> "Request Header Fields Too Large";
            case 502 -> "Bad Gateway";
            case 503 -> "Service Unavailable";
            case 504 -> "Gateway Timeout";
            default -> "Error";
        };
    }
}
