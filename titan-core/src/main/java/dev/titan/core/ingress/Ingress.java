package dev.titan.core.ingress;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.net.EarlyInput;
import dev.titan.core.net.RelayOptions;
import dev.titan.core.net.TimedDecoder;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the first bytes of a connection into a {@link DestinationRequest} and forwards it: read
 * until {@link #decide} can name the destination (a TLS server name, an HTTP Host), route it, and
 * hand the connection to the {@link Forwarder} with everything read so far as the first flight.
 * From then on an {@link EarlyInput} takes this handler's place and holds whatever else arrives
 * (bytes, the end of input) until the relay starts, so nothing is lost and nothing is read twice.
 *
 * <p>An ingress handles its own bad input: bytes it cannot read, an opening that does not finish
 * within its timeout, or a decode error close that connection only, quietly, counted in the
 * listener's errors as {@code malformed} or {@code timeout}. A new ingress is a subclass with its
 * {@code decide} and, where its protocol can answer, its own refusals (an HTTP status).
 */
public abstract class Ingress extends TimedDecoder {
    private static final Logger log = LoggerFactory.getLogger(Ingress.class);

    protected final String listener;
    protected final Forwarder forwarder;
    private boolean decided;

    /** {@code listener}: the name requests carry; {@code timeout}: how long the opening may take. */
    protected Ingress(String listener, Forwarder forwarder, Duration timeout) {
        super(timeout);
        this.listener = listener;
        this.forwarder = forwarder;
    }

    /**
     * Reads {@code in} (without consuming it) for what names the destination: a request, or null to
     * wait for more bytes. An ingress that served the connection itself (a protocol upgrade it
     * owns) removes itself and returns null.
     *
     * @throws Malformed when the bytes cannot be what this ingress reads
     */
    protected abstract DestinationRequest decide(ChannelHandlerContext ctx, ByteBuf in) throws Malformed;

    /** The request's first flight, consumed from {@code in}: by default everything read so far. */
    protected ByteBuf firstBytes(ChannelHandlerContext ctx, ByteBuf in, DestinationRequest request) {
        return in.readRetainedSlice(in.readableBytes());
    }

    /**
     * No route serves {@code request}; the bytes are still in {@code in}. By default it is counted
     * as a {@code no_route} error and the connection closes.
     */
    protected void noRoute(ChannelHandlerContext ctx, ByteBuf in, DestinationRequest request) {
        forwarder.error("no_route");
        in.skipBytes(in.readableBytes());
        ctx.close();
    }

    /** A routed request its cluster could not connect ({@code cause}: the cluster's or its connector's). By default it closes. */
    protected void refused(Channel client, Router.Route route, Throwable cause) {
        client.close();
    }

    /**
     * The cluster connected the request; the relay starts next. A proxy protocol writes its success
     * answer here (before anything of the upstream's). Nothing by default.
     */
    protected void connected(Channel client, Router.Route route, Cluster.Connection up) {
    }

    /** Bytes this ingress cannot read. By default the connection closes. */
    protected void malformed(ChannelHandlerContext ctx, Malformed problem) {
        ctx.close();
    }

    /** Reads until the opening is decided (a listener that relays starts its connections with reading off). */
    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        super.handlerAdded(ctx);
        ctx.channel().config().setAutoRead(true);
    }

    @Override
    protected void timedOut(ChannelHandlerContext ctx) {
        forwarder.error("timeout"); // then closed: an answer would invite a slow client to wait for it
    }

    @Override
    protected final void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (decided) {
            in.skipBytes(in.readableBytes()); // after a refusal: what else comes is dropped with the connection
            return;
        }
        DestinationRequest request;
        try {
            request = decide(ctx, in);
        } catch (Malformed m) {
            decided = true;
            stopClock();
            in.skipBytes(in.readableBytes());
            forwarder.error("malformed");
            log.debug("listener {}: {} from {}", listener, m.getMessage(), ctx.channel().remoteAddress());
            malformed(ctx, m);
            return;
        }
        if (request == null || ctx.isRemoved()) {
            return;
        }
        decided = true;
        stopClock();
        Router.Route route = forwarder.route(request);
        if (route == null) {
            noRoute(ctx, in, request);
            return;
        }
        DestinationRequest routed = route.request().withFirstBytes(firstBytes(ctx, in, route.request()));
        Router.Route forwarded = route.with(routed);
        Channel ch = ctx.channel();
        ch.config().setAutoRead(false);
        RelayOptions.apply(ch);
        ctx.pipeline().replace(this, EarlyInput.NAME, new EarlyInput());
        forwarder.forward(ch, forwarded, new Forwarder.Reply() {
            @Override
            public void refused(Channel client, Throwable cause) {
                Ingress.this.refused(client, forwarded, cause);
            }

            @Override
            public void connected(Channel client, Cluster.Connection up) {
                Ingress.this.connected(client, forwarded, up);
            }
        });
    }

    /**
     * Asks {@link #decide} again now, with what has been read so far, without waiting for more bytes:
     * for an ingress that decides on a timer (a proxy that answered at once and gives the client a
     * moment to send its first bytes). On the channel's event loop.
     */
    protected final void decideNow(ChannelHandlerContext ctx) {
        if (!decided && !ctx.isRemoved()) {
            decode(ctx, internalBuffer(), new java.util.ArrayList<>(0));
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // a decode error ends this connection only, without a stack trace: a peer must not be able to flood the log
        forwarder.error("malformed");
        log.debug("listener {}: connection from {} closed: {}", listener, ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }

    /** The opening of a connection is not what an ingress reads; {@code status} is the HTTP status that says so. */
    public static final class Malformed extends Exception {
        private final int status;

        public Malformed(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }

        public int status() {
            return status;
        }
    }
}
