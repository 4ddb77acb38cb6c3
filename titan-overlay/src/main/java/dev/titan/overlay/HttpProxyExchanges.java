package dev.titan.overlay;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.ingress.Forwarder;
import dev.titan.core.ingress.HttpBody;
import dev.titan.core.ingress.HttpHead;
import dev.titan.core.ingress.HttpIngress;
import dev.titan.core.ingress.Ingress;
import dev.titan.core.net.EarlyInput;
import dev.titan.core.net.Relay;
import dev.titan.core.net.RelayOptions;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * An HTTP proxy connection that carries absolute-form requests ({@code GET http://host/path}),
 * kept alive across them as clients expect of a proxy. Each request is authenticated and routed
 * on its own (its username parameters may differ), sent on in origin form without the proxy's own
 * and hop-by-hop headers, and its body passed through unchanged (Content-Length or chunked,
 * {@link HttpBody}). The next request waits until the response to this one has ended
 * ({@link Responses} frames it on the stream); a request for the same user and target then goes
 * on the same stream, any other detaches that stream's {@link Relay} and opens a stream of its
 * own through the {@link Forwarder}, so bytes are counted, limited and accounted exactly as for
 * any other connection. A stream its origin closes between requests is detached, not the client.
 *
 * <p>The connection closes after a response when the client asked for that (HTTP/1.0, or
 * {@code Connection: close}), when the response runs until its stream ends (no length), or when
 * the response ended before the request's body did. A {@code CONNECT} on the connection hands it
 * to a new {@link HttpProxyIngress}; a {@code 101 Switching Protocols} leaves the relay raw.
 */
final class HttpProxyExchanges extends ByteToMessageDecoder {
    private final String listener;
    private final Forwarder forwarder;
    private final PopContext pop;
    private final Duration keepAlive;
    private final Supplier<ChannelHandler> connectIngress;
    private final List<String> admitted = new ArrayList<>(1);
    private ChannelHandlerContext ctx;
    private Relay relay; // the relay of the current stream; null between streams
    private Responses responses; // the framer on the current stream
    private String streamUser;
    private String streamTarget;
    private HttpBody body; // the request body still being sent, or null
    private boolean inFlight; // a response is awaited; the next request waits
    private boolean closeAfter;
    private boolean firstLogged;
    private volatile boolean clientEnded; // the client sent its FIN: no request follows (read on the streams' loops)
    private ScheduledFuture<?> idle;

    HttpProxyExchanges(String listener, Forwarder forwarder, PopContext pop, Duration keepAlive, Supplier<ChannelHandler> connectIngress) {
        this.listener = listener;
        this.forwarder = forwarder;
        this.pop = pop;
        this.keepAlive = keepAlive;
        this.connectIngress = connectIngress;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        RelayOptions.apply(ctx.channel());
        waitForRequest();
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        stopWaiting();
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        try {
            while (in.isReadable() && !ctx.isRemoved()) {
                if (body != null) {
                    ByteBuf part = body.take(in);
                    if (part != null) {
                        out.add(part);
                    }
                    if (!body.done()) {
                        return;
                    }
                    body = null;
                    continue;
                }
                if (inFlight || closeAfter) {
                    ctx.channel().config().setAutoRead(false); // a pipelined request waits for the response before it
                    return;
                }
                HttpHead head = HttpHead.read(in);
                if (head == null || !request(ctx, head, in, out)) {
                    return;
                }
            }
        } catch (Ingress.Malformed m) {
            in.skipBytes(in.readableBytes());
            refuse(c -> HttpIngress.respond(c, m.status(), "Proxy-Status: titan; error=http_request_error\r\n", m.getMessage()));
        }
    }

    /** Sends {@code head}'s request on; false when the connection was refused or handed on. */
    private boolean request(ChannelHandlerContext ctx, HttpHead head, ByteBuf in, List<Object> out) throws Ingress.Malformed {
        Channel ch = ctx.channel();
        if (head.method().equals("CONNECT")) {
            detach();
            ctx.pipeline().addAfter(ctx.name(), null, connectIngress.get());
            ctx.pipeline().remove(this); // what was read, the CONNECT first, goes on to the new ingress
            return false;
        }
        PopContext.HttpUser who = pop.httpUser(head, ch);
        if (who.user() == null) {
            pop.meters.authFailed("http");
            in.skipBytes(in.readableBytes());
            refuse(c -> HttpProxyIngress.askForCredentials(c, who.refusal()));
            return false;
        }
        String user = who.user();
        String base = UserParams.parse(user).user();
        ProxyFailure limited = admitted.contains(base) ? pop.quota(user) : pop.admit(user, ch);
        if (limited != null) {
            in.skipBytes(in.readableBytes());
            refuse(limited::answerHttp);
            return false;
        }
        if (!admitted.contains(base)) {
            admitted.add(base);
        }
        URI uri;
        try {
            uri = new URI(head.target());
        } catch (URISyntaxException e) {
            throw new Ingress.Malformed(400, "not an absolute URI: " + head.target());
        }
        if (!"http".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null || uri.getHost().isEmpty()) {
            throw new Ingress.Malformed(400, "a proxy request needs an absolute http:// URI (https goes through CONNECT)");
        }
        String host = uri.getHost();
        int port = uri.getPort() < 0 ? 80 : uri.getPort();
        HttpBody requestBody = HttpBody.ofRequest(head);
        stopWaiting();
        boolean close = !head.version().equals("HTTP/1.1") || head.hasToken("connection", "close");
        ByteBuf originForm = Unpooled.copiedBuffer(originForm(head, uri, close), StandardCharsets.ISO_8859_1);
        in.skipBytes(head.length());
        if (!firstLogged) {
            firstLogged = true;
            pop.browserInfo(DestinationRequest.of(listener, ch, DestinationRequest.HTTP).withUser(user).withTarget(host, port), head, in);
        }
        ByteBuf part = requestBody.take(in);
        ByteBuf first = part == null ? originForm : Unpooled.wrappedBuffer(originForm, part);
        body = requestBody.done() ? null : requestBody;
        inFlight = true;
        closeAfter = close;
        String target = host + ":" + port;
        if (relay != null && user.equals(streamUser) && target.equals(streamTarget) && relay.b().isActive()) {
            responses.expect(head.method(), close);
            out.add(first);
            return true;
        }
        detach();
        DestinationRequest r = DestinationRequest.of(listener, ch, DestinationRequest.HTTP).withUser(user).withTarget(host, port);
        Router.Route route = forwarder.route(r);
        if (route == null) {
            first.release();
            forwarder.error("no_route");
            refuse(c -> HttpIngress.respond(c, 503, "Proxy-Status: titan; error=destination_unavailable\r\n", "no edge serves this request"));
            return false;
        }
        streamUser = user;
        streamTarget = target;
        open(ch, route.with(route.request().withFirstBytes(first)), head.method(), close);
        return true;
    }

    /** Opens a stream for {@code route}; what the request sends meanwhile waits in an {@link EarlyInput}. */
    private void open(Channel ch, Router.Route route, String method, boolean close) {
        ch.config().setAutoRead(false);
        if (ch.pipeline().get(EarlyInput.NAME) == null) {
            ch.pipeline().addAfter(ctx.name(), EarlyInput.NAME, new EarlyInput());
        }
        forwarder.forward(ch, route, new Forwarder.Reply() {
            @Override
            public void refused(Channel client, Throwable cause) {
                pop.failed(route, cause).answerHttp(client);
            }

            @Override
            public void connected(Channel client, Cluster.Connection up) {
                pop.connected(route.request(), client, route.cluster(), up);
                responses = new Responses(client);
                responses.expect(method, close);
                up.channel().pipeline().addLast("http-responses", responses);
            }

            @Override
            public void relaying(Relay started) {
                relay = started;
            }
        });
    }

    /** The request head as it goes to the origin: origin form, without the proxy's own and hop-by-hop headers. */
    private static String originForm(HttpHead head, URI uri, boolean close) {
        String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        StringBuilder b = new StringBuilder(head.length() + 32).append(head.method()).append(' ').append(path);
        if (uri.getRawQuery() != null) {
            b.append('?').append(uri.getRawQuery());
        }
        b.append(' ').append(head.version()).append("\r\n");
        boolean upgrade = head.header("upgrade") != null && head.hasToken("connection", "upgrade");
        for (String[] h : head.headers()) {
            String name = h[0].toLowerCase(Locale.ROOT);
            if (!name.startsWith("proxy-") && !hopByHop(head, name) || upgrade && name.equals("upgrade")) {
                b.append(h[0]).append(": ").append(h[1]).append("\r\n");
            }
        }
        b.append(upgrade ? "Connection: upgrade\r\n" : close ? "Connection: close\r\n" : "");
        return b.append("\r\n").toString();
    }

    /** Whether header {@code name} (lower case) belongs to one hop only (RFC 9110 section 7.6.1). */
    static boolean hopByHop(HttpHead head, String name) {
        return name.equals("connection") || name.equals("keep-alive") || name.equals("upgrade") || name.equals("te")
                || head.hasToken("connection", name);
    }

    /** The response to the request in flight has ended (on the client's loop). */
    private void responded(boolean upgraded) {
        if (ctx.isRemoved() || !ctx.channel().isActive()) {
            return;
        }
        inFlight = false;
        if (upgraded) {
            body = null;
            ctx.pipeline().remove(this); // the relay carries the upgraded protocol as it is
            return;
        }
        if (closeAfter || body != null) {
            ctx.channel().writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        ctx.channel().config().setAutoRead(true);
        try {
            channelRead(ctx, Unpooled.EMPTY_BUFFER); // a request that came meanwhile goes now
            channelReadComplete(ctx);
        } catch (Exception e) {
            ctx.fireExceptionCaught(e);
        }
    }

    /** The stream ended between requests (its origin closed an idle connection): the client stays, unless it has ended too. */
    private void streamEnded(Relay ended) {
        if (clientEnded) {
            ctx.close();
            return;
        }
        if (ended == relay) {
            relay = null;
            responses = null;
            if (!inFlight && !ctx.isRemoved()) {
                ctx.channel().config().setAutoRead(true);
                waitForRequest();
            }
        }
    }

    private void detach() {
        if (relay != null) {
            relay.detach();
            relay = null;
            responses = null;
        }
    }

    /** Without a relay, nothing else closes an idle connection: wait this long for the next request. */
    private void waitForRequest() {
        stopWaiting();
        idle = ctx.executor().schedule(() -> {
            if (relay == null && !inFlight) {
                ctx.close();
            }
        }, keepAlive.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void stopWaiting() {
        if (idle != null) {
            idle.cancel(false);
            idle = null;
        }
    }

    /** Ends the connection with {@code answer} (which closes it once written); nothing more is read from it. */
    private void refuse(java.util.function.Consumer<Channel> answer) {
        detach();
        closeAfter = true;
        answer.accept(ctx.channel());
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (EarlyInput.isEndOfInput(evt)) {
            clientEnded = true;
            if (relay == null && !inFlight) {
                ctx.close(); // between streams, nothing else would
                return;
            }
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    /**
     * Frames the responses on one stream (on the stream's loop): passes each on with its hop-by-hop
     * headers removed, and tells the connection when the response to its request has ended.
     */
    private final class Responses extends io.netty.channel.ChannelInboundHandlerAdapter {
        private final Channel client;
        private volatile String method; // of the request in flight; null when none
        private volatile boolean close;
        private ByteBuf partial; // a response head not yet whole
        private HttpBody responseBody;
        private boolean broken; // answered 502: what else comes is dropped with the stream

        Responses(Channel client) {
            this.client = client;
        }

        void expect(String method, boolean close) {
            this.close = close;
            this.method = method;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof ByteBuf buf)) {
                ctx.fireChannelRead(msg);
                return;
            }
            if (broken) {
                buf.release();
                return;
            }
            ByteBuf in = buf;
            if (partial != null) {
                in = Unpooled.wrappedBuffer(partial, buf);
                partial = null;
            }
            try {
                frame(ctx, in);
            } catch (Ingress.Malformed m) {
                in.release();
                broken = true;
                HttpIngress.respond(client, 502, "Proxy-Status: titan; error=http_protocol_error\r\n", "the origin's response is not HTTP/1: " + m.getMessage());
            }
        }

        private void frame(ChannelHandlerContext ctx, ByteBuf in) throws Ingress.Malformed {
            while (in.isReadable()) {
                if (responseBody != null) {
                    ByteBuf part = responseBody.take(in);
                    if (part != null) {
                        ctx.fireChannelRead(part);
                    }
                    if (!responseBody.done()) {
                        break;
                    }
                    responseBody = null;
                    ended(false);
                    continue;
                }
                String m = method;
                if (m == null) {
                    throw new Ingress.Malformed(502, "bytes from the origin when no request was sent");
                }
                HttpHead head = HttpHead.readResponse(in);
                if (head == null) {
                    partial = in.readRetainedSlice(in.readableBytes());
                    break;
                }
                in.skipBytes(head.length());
                int status = head.status();
                if (status == 101) {
                    ctx.fireChannelRead(Unpooled.copiedBuffer(head.startLine() + "\r\n" + headers(head, false, true) + "\r\n", StandardCharsets.ISO_8859_1));
                    ctx.fireChannelRead(in.readRetainedSlice(in.readableBytes()));
                    ctx.pipeline().remove(this);
                    ended(true);
                    break;
                }
                HttpBody b = HttpBody.ofResponse(head, m);
                boolean closing = close || b.untilClose();
                close = closing;
                ctx.fireChannelRead(Unpooled.copiedBuffer(head.startLine() + "\r\n" + headers(head, closing && status >= 200, false) + "\r\n",
                        StandardCharsets.ISO_8859_1));
                if (status < 200) {
                    continue; // an interim response (100 Continue): the final one follows
                }
                if (b.untilClose()) {
                    // the end of the stream ends this response: the relay passes it to the client, which then closes
                    ctx.fireChannelRead(in.readRetainedSlice(in.readableBytes()));
                    ctx.pipeline().remove(this);
                    break;
                }
                if (b.done()) {
                    ended(false);
                } else {
                    responseBody = b;
                }
            }
            in.release();
        }

        private String headers(HttpHead head, boolean close, boolean keepAll) {
            StringBuilder b = new StringBuilder(head.length());
            for (String[] h : head.headers()) {
                if (keepAll || !hopByHop(head, h[0].toLowerCase(Locale.ROOT)) && !h[0].equalsIgnoreCase("proxy-connection")) {
                    b.append(h[0]).append(": ").append(h[1]).append("\r\n");
                }
            }
            return close ? b.append("Connection: close\r\n").toString() : b.toString();
        }

        private void ended(boolean upgraded) {
            method = null;
            client.eventLoop().execute(() -> responded(upgraded));
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (EarlyInput.isEndOfInput(evt) && method == null && partial == null && !clientEnded) {
                // the origin closed its idle keep-alive connection: the stream ends, the client stays for its next request
                Relay r = Relay.on(ctx.channel());
                if (r != null) {
                    r.detach();
                    client.eventLoop().execute(() -> streamEnded(r));
                    return;
                }
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            if (partial != null) {
                partial.release();
                partial = null;
            }
        }
    }
}
