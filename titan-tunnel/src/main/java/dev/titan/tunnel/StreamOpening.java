package dev.titan.tunnel;

import dev.titan.core.net.EarlyInput;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Opens the stream of one user connection and waits for the client's answer, trying the next
 * replica of the client when one cannot serve it. The user's first flight (an HTTP request head,
 * what arrived with it) goes out with the stream's HEADERS, without waiting for the answer, and is
 * kept until the answer: a client whose local service refuses (502), which is too busy (503), or
 * whose tunnel ends before it answers, costs the user nothing while another replica is left; the
 * same first flight goes to that one. Like HAProxy's redispatch, and safe for the same reason:
 * nothing of the user's connection has reached a service that answered, and the user has been
 * sent nothing yet. The result completes with the stream once a client answered 200, or fails with
 * the last refusal ({@link Refused}) when no replica is left.
 *
 * <p>Bytes and the end of input that follow the 200 in the same read are held by an
 * {@link EarlyInput} for the relay the caller starts.
 */
final class StreamOpening {
    /** A client refused the stream with {@code status} (404: no such service; 502: it cannot reach the service; 503: too busy). */
    static final class Refused extends IllegalStateException {
        final String status;

        Refused(String status) {
            super("the tunnel client answered " + status);
            this.status = status;
        }
    }

    /** The stream ended before its client answered (its tunnel closed, or it was reset), or no answer came in time. */
    static final class Unanswered extends IllegalStateException {
        Unanswered(String message) {
            super(message);
        }
    }

    private final TunnelServer server;
    private final String clientId;
    private final String service;
    private final Channel user;
    private final ByteBuf firstFlight;
    private final Promise<Http2StreamChannel> result;
    private final Duration openTimeout;
    private final Set<ServerSession> tried = new HashSet<>();

    private StreamOpening(TunnelServer server, TunnelServer.Route route, Channel user, ByteBuf firstFlight, Promise<Http2StreamChannel> result,
                          Duration openTimeout) {
        this.server = server;
        this.openTimeout = openTimeout;
        this.clientId = route.session().clientId();
        this.service = route.service();
        this.user = user;
        this.firstFlight = firstFlight;
        this.result = result;
    }

    /**
     * Starts with {@code route}'s replica; takes over {@code firstFlight} (released when the result
     * completes). A replica that has not answered within {@code openTimeout} counts as refusing.
     */
    static Future<Http2StreamChannel> start(TunnelServer server, TunnelServer.Route route, Channel user, ByteBuf firstFlight,
                                            Promise<Http2StreamChannel> result, Duration openTimeout) {
        new StreamOpening(server, route, user, firstFlight, result, openTimeout).attempt(route.session());
        return result;
    }

    private void attempt(ServerSession session) {
        synchronized (tried) {
            tried.add(session);
        }
        // the first flight goes out with the stream's HEADERS, before the client can answer
        session.open(service, user, new Answer(session), firstFlight).addListener((Future<Http2StreamChannel> f) -> {
            if (!f.isSuccess()) {
                next(f.cause()); // no stream: nothing will answer
            }
        });
    }

    /** This replica could not take the stream: the next one not tried yet, or the end. */
    private void next(Throwable cause) {
        ServerSession other;
        synchronized (tried) {
            other = user.isActive() ? server.pick(clientId, tried) : null;
        }
        if (other == null) {
            firstFlight.release();
            result.tryFailure(cause);
            return;
        }
        server.countRedispatch(clientId);
        attempt(other);
    }

    /** Waits on a new stream, from its creation, for the client's answer: the first HEADERS. */
    private final class Answer extends ChannelInboundHandlerAdapter {
        private final ServerSession session;
        private boolean answered;
        private ScheduledFuture<?> timeout;

        Answer(ServerSession session) {
            this.session = session;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            timeout = ctx.executor().schedule(() -> {
                if (!answered) { // a replica gone silent (no FIN yet): the next one, and this one avoided for a while
                    answered = true;
                    session.refused();
                    ctx.channel().close();
                    next(new Unanswered("the tunnel client did not answer within " + openTimeout.toMillis() + " ms"));
                }
            }, openTimeout.toNanos(), TimeUnit.NANOSECONDS);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Http2StreamChannel stream = (Http2StreamChannel) ctx.channel();
            if (answered || !(msg instanceof Http2HeadersFrame headers)) {
                ReferenceCountUtil.release(msg); // nothing comes before the answer
                return;
            }
            answered = true;
            timeout.cancel(false);
            CharSequence status = headers.headers().status();
            String code = status == null ? "no status" : status.toString();
            if (code.equals("200")) {
                session.accepted();
                ctx.pipeline().replace(this, EarlyInput.NAME, new EarlyInput());
                firstFlight.release();
                // in a task of its own: the caller starts its relay on this stream, which must not
                // happen inside the stream's read (it would not read again)
                ctx.executor().execute(() -> {
                    if (!result.trySuccess(stream)) {
                        stream.close(); // the caller gave up meanwhile
                    }
                });
                return;
            }
            if (!code.equals("404")) {
                session.refused(); // its service is down or it is swamped: others first for a while
            }
            ctx.pipeline().remove(this);
            ctx.channel().close();
            next(new Refused(code));
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (!EarlyInput.isEndOfInput(evt)) { // the end of a refusal, or of a stream that never answered
                ctx.fireUserEventTriggered(evt);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!answered) {
                answered = true;
                timeout.cancel(false);
                next(new Unanswered("the stream ended before the tunnel client answered"));
            }
            ctx.fireChannelInactive();
        }
    }
}
