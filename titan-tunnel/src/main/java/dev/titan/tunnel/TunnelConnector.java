package dev.titan.tunnel;

import dev.titan.core.cluster.Endpoint;
import dev.titan.core.net.Connector;
import dev.titan.core.net.EarlyInput;
import dev.titan.core.route.DestinationRequest;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Connects a request to a tunnel peer: opens a stream in the peer's tunnel that names the target
 * (a service of a tunnel client), sends the request's first bytes right behind the stream's OPEN
 * (without waiting for the answer), and completes once the client answered 200, having connected
 * to its local service. A client that cannot reach its service (502), is too busy (503), does not
 * answer within the timeout, or whose tunnel ends first fails the connect, and its cluster tries
 * another replica with the same first bytes, as HAProxy's redispatch does; safe for the same
 * reason: nothing of the connection has reached a service that answered, and the user has been
 * sent nothing yet. A client that does not publish the service (404) is no fault of its tunnel's.
 *
 * <p>Bytes and the end of input that follow the 200 in the same read are held by an
 * {@link EarlyInput} for the relay the caller starts. Each stream counts against its user's
 * {@code max_connections} while it is open (a user at the limit is {@link Declined}: no replica
 * could take it) and carries its user's account ({@link TunnelAccounts}) to the relay.
 */
public final class TunnelConnector implements Connector {
    /** A client refused the stream with {@code status} (502: it cannot reach the service; 503: too busy). */
    static final class Refused extends Exception {
        final String status;

        Refused(String status) {
            super("the tunnel client answered " + status, null, false, false);
            this.status = status;
        }
    }

    /**
     * The client reached its side but the target failed ({@link StreamTargets#ERROR_HEADER}: refused by
     * the egress policy, a name that does not resolve, a target that refused or did not answer):
     * the request's own failure, tried through no other client and blamed on none.
     */
    public static final class TargetFailed extends Declined {
        private final String error;

        TargetFailed(String error, String target) {
            super(target + ": " + error);
            this.error = error;
        }

        /** The RFC 9209 error type the client reported. */
        public String error() {
            return error;
        }
    }

    /** A client that does not publish the service the stream names. */
    static final class NotPublished extends NotServed {
        NotPublished(String target) {
            super("the tunnel client does not publish " + target);
        }
    }

    /** The stream ended before its client answered (its tunnel closed, or it was reset), or no answer came in time. */
    static final class Unanswered extends Exception {
        Unanswered(String message) {
            super(message, null, false, false);
        }
    }

    private final TunnelAccounts accounts;
    private final boolean tellsAddresses;

    /**
     * {@code tellsAddresses}: whether a stream's open names who connected and where to (for a
     * published service's PROXY protocol). An overlay PoP's edges are not told: an edge makes the
     * user's connection without learning the user's address.
     */
    TunnelConnector(TunnelAccounts accounts, boolean tellsAddresses) {
        this.accounts = accounts;
        this.tellsAddresses = tellsAddresses;
    }

    @Override
    public Future<Channel> connect(Endpoint endpoint, DestinationRequest request, EventLoop loop, Duration timeout) {
        Promise<Channel> result = loop.newPromise();
        ServerSession session = endpoint.attachment(ServerSession.class);
        if (session == null) {
            return result.setFailure(new IllegalArgumentException(endpoint + " is not a tunnel"));
        }
        String id = session.clientId();
        if (!accounts.admit(id)) {
            return result.setFailure(new Declined("client " + id + " has its max_connections (" + accounts.maxConnections(id) + ") open"));
        }
        String target = request.targetPort() > 0 ? request.targetHost() + ":" + request.targetPort() : request.targetHost();
        session.open(target, request, tellsAddresses, new Answer(id, target, result, timeout)).addListener((Future<MuxStream> f) -> {
            if (f.isSuccess()) {
                f.getNow().closeFuture().addListener(c -> accounts.release(id)); // the place is the stream's while it is open
            } else {
                accounts.release(id);
                result.tryFailure(f.cause()); // no stream: nothing will answer
            }
        });
        return result;
    }

    /** Waits on a new stream, from its creation, for the client's answer: its REPLY head. */
    private final class Answer extends ChannelInboundHandlerAdapter {
        private final String clientId;
        private final String target;
        private final Promise<Channel> result;
        private final Duration timeout;
        private boolean answered;
        private ScheduledFuture<?> timer;

        Answer(String clientId, String target, Promise<Channel> result, Duration timeout) {
            this.clientId = clientId;
            this.target = target;
            this.result = result;
            this.timeout = timeout;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            timer = ctx.executor().schedule(() -> {
                if (!answered) { // a replica gone silent (no FIN yet)
                    answered = true;
                    ctx.channel().close();
                    result.tryFailure(new Unanswered("the tunnel client did not answer within " + timeout.toMillis() + " ms"));
                }
            }, timeout.toNanos(), TimeUnit.NANOSECONDS);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Channel stream = ctx.channel();
            if (answered || !(msg instanceof MuxHead head)) {
                ReferenceCountUtil.release(msg); // nothing comes before the answer
                return;
            }
            answered = true;
            timer.cancel(false);
            String status = head.status();
            String code = status == null ? "no status" : status;
            if (code.equals("200")) {
                ctx.pipeline().replace(this, EarlyInput.NAME, new EarlyInput());
                accounts.opened(clientId, stream);
                // in a task of its own: the caller starts its relay on this stream, which must not
                // happen inside the stream's read (it would not read again)
                ctx.executor().execute(() -> {
                    if (!result.trySuccess(stream)) {
                        stream.close(); // the caller gave up meanwhile
                    }
                });
                return;
            }
            ctx.pipeline().remove(this);
            ctx.channel().close();
            String error = head.get(StreamTargets.ERROR_HEADER);
            result.tryFailure(error != null ? new TargetFailed(error, target)
                    : code.equals("404") ? new NotPublished(target) : new Refused(code));
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
                timer.cancel(false);
                result.tryFailure(new Unanswered("the stream ended before the tunnel client answered"));
            }
            ctx.fireChannelInactive();
        }
    }
}
