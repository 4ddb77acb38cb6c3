package dev.titan.tunnel;

import dev.titan.core.config.HostPort;
import dev.titan.core.net.EarlyInput;
import dev.titan.core.net.Relay;
import dev.titan.core.net.TcpConnector;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import io.netty.channel.ConnectTimeoutException;
import io.netty.util.concurrent.Future;
import java.net.NoRouteToHostException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client's side of a stream the server opened: reads its CONNECT, resolves its target
 * ({@link StreamTargets}: a published service, or an edge's egress), connects, answers 200 (or the
 * target's refusal, 502 when it cannot be reached, 503 when too many connections are being made)
 * and relays. What the stream
 * delivers while the local connection is being made (bytes, its end) waits in an
 * {@link EarlyInput}, bounded by the stream's flow-control window, and the relay replays it first.
 */
final class LocalOpen extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(LocalOpen.class);

    /** What every stream of one client shares. */
    record Shared(StreamTargets targets, TcpConnector connector, AtomicInteger pendingOpens,
                  int maxPendingOpens, Duration dialTimeout, Duration idleTimeout, ClientMeters meters) {
    }

    private final Shared shared;

    LocalOpen(Shared shared) {
        this.shared = shared;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof MuxHead h) {
            ctx.channel().config().setAutoRead(false);
            ctx.pipeline().replace(this, EarlyInput.NAME, new EarlyInput()); // what follows the OPEN waits for the relay
            open((MuxStream) ctx.channel(), h);
            return;
        }
        ReferenceCountUtil.release(msg); // bytes before the OPEN: not the protocol
        ctx.close();
    }

    private void open(MuxStream stream, MuxHead h) {
        String name = h.target();
        if (StreamTargets.DATAGRAMS.equals(name)) {
            if (!shared.targets().datagrams(stream)) {
                refuse(stream, "404", null);
            }
            return;
        }
        if (shared.pendingOpens().incrementAndGet() > shared.maxPendingOpens()) {
            shared.pendingOpens().decrementAndGet();
            log.debug("stream for {}: {} connections already being made; refused", name, shared.maxPendingOpens());
            refuse(stream, "503", null);
            return;
        }
        shared.targets().resolve(name, stream.eventLoop()).addListener((Future<StreamTargets.Target> r) -> {
            if (!r.isSuccess()) {
                shared.pendingOpens().decrementAndGet();
                StreamTargets.Refused no = r.cause() instanceof StreamTargets.Refused x ? x
                        : new StreamTargets.Refused("502", "dns_error", r.cause().toString());
                log.debug("stream for {} refused: {}", name, no.getMessage());
                refuse(stream, no.status(), no.error());
                return;
            }
            connect(stream, h, r.getNow());
        });
    }

    private void connect(MuxStream stream, MuxHead h, StreamTargets.Target target) {
        if (!stream.isActive()) {
            shared.pendingOpens().decrementAndGet();
            return;
        }
        ChannelFuture connecting = shared.connector().connect(target.address(), stream.eventLoop(), shared.dialTimeout());
        stream.closeFuture().addListener(c -> {
            if (!connecting.isDone()) {
                connecting.channel().close(); // the user went away: stop connecting for them
            }
        });
        connecting.addListener((ChannelFuture f) -> {
            shared.pendingOpens().decrementAndGet();
            if (!f.isSuccess()) {
                log.debug("{}: cannot connect to {}: {}", target.name(), HostPort.format(target.address()), f.cause().toString());
                refuse(stream, "502", target.reportTarget() ? connectError(f.cause()) : null);
                return;
            }
            Channel local = f.channel();
            if (!stream.isActive()) {
                local.close();
                return;
            }
            stream.write(MuxHead.status("200", false));
            if (target.proxyProtocol() != null) {
                ByteBuf header = ProxyProtocol.header(local.alloc(), target.proxyProtocol(), h.get(TunnelProtocol.CLIENT_ADDRESS_HEADER),
                        h.get(TunnelProtocol.SERVER_ADDRESS_HEADER));
                local.write(header, local.voidPromise()); // before anything of the user's
            }
            shared.meters().streams.increment();
            Relay.start(stream, local, shared.idleTimeout(), shared.meters()); // replays what the stream held, after the header
            local.flush();
            stream.flush();
        });
    }

    /** The RFC 9209 error type of a failed connect to a target. */
    static String connectError(Throwable cause) {
        if (cause instanceof ConnectTimeoutException) {
            return "connection_timeout";
        }
        String m = String.valueOf(cause.getMessage()).toLowerCase(java.util.Locale.ROOT);
        if (cause instanceof NoRouteToHostException || m.contains("no route") || m.contains("unreachable")) {
            return "destination_ip_unroutable";
        }
        return "connection_refused";
    }

    /**
     * Answers {@code status} and closes the stream, which releases what arrived while reading was
     * paused for the connect.
     */
    private static void refuse(MuxStream stream, String status, String error) {
        stream.writeAndFlush(MuxHead.status(status, true).set(StreamTargets.ERROR_HEADER, error)).addListener(f -> stream.close());
    }
}
