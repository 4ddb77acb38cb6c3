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
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client's side of a stream the server opened: reads its CONNECT, connects to the named
 * local service, answers 200 (or 404 when no such service is published, 502 when it cannot be
 * reached, 503 when too many local connections are being made) and relays. What the stream
 * delivers while the local connection is being made (bytes, its end) waits in an
 * {@link EarlyInput}, bounded by the stream's flow-control window, and the relay replays it first.
 */
final class LocalOpen extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(LocalOpen.class);

    /** What every stream of one client shares. */
    record Shared(Map<String, TunnelClientConfig.LocalService> services, TcpConnector connector, AtomicInteger pendingOpens,
                  int maxPendingOpens, Duration dialTimeout, Duration idleTimeout, ClientMeters meters) {
    }

    private final Shared shared;

    LocalOpen(Shared shared) {
        this.shared = shared;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2HeadersFrame h) {
            ctx.channel().config().setAutoRead(false);
            ctx.pipeline().replace(this, EarlyInput.NAME, new EarlyInput()); // what follows the CONNECT waits for the relay
            open((Http2StreamChannel) ctx.channel(), h);
            return;
        }
        ReferenceCountUtil.release(msg); // bytes before the CONNECT: not the protocol
        ctx.close();
    }

    private void open(Http2StreamChannel stream, Http2HeadersFrame h) {
        CharSequence name = h.headers().authority();
        TunnelClientConfig.LocalService svc = name == null ? null : shared.services().get(name.toString());
        if (svc == null) {
            log.debug("stream for unknown service {}", name);
            refuse(stream, "404");
            return;
        }
        if (shared.pendingOpens().incrementAndGet() > shared.maxPendingOpens()) {
            shared.pendingOpens().decrementAndGet();
            log.debug("service {}: {} local connections already being made; stream refused", svc.name(), shared.maxPendingOpens());
            refuse(stream, "503");
            return;
        }
        ChannelFuture connecting = shared.connector().connect(svc.local(), stream.eventLoop(), shared.dialTimeout());
        stream.closeFuture().addListener(c -> {
            if (!connecting.isDone()) {
                connecting.channel().close(); // the user went away: stop connecting for them
            }
        });
        connecting.addListener((ChannelFuture f) -> {
            shared.pendingOpens().decrementAndGet();
            if (!f.isSuccess()) {
                log.debug("service {}: cannot connect to {}: {}", svc.name(), HostPort.format(svc.local()), f.cause().toString());
                refuse(stream, "502");
                return;
            }
            Channel local = f.channel();
            if (!stream.isActive()) {
                local.close();
                return;
            }
            stream.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), false));
            if (svc.proxyProtocol() != null) {
                ByteBuf header = ProxyProtocol.header(local.alloc(), svc.proxyProtocol(), h.headers().get(TunnelProtocol.CLIENT_ADDRESS_HEADER),
                        h.headers().get(TunnelProtocol.SERVER_ADDRESS_HEADER));
                local.write(header, local.voidPromise()); // before anything of the user's
            }
            shared.meters().streams.increment();
            Relay.start(stream, local, shared.idleTimeout(), shared.meters()); // replays what the stream held, after the header
            local.flush();
            stream.flush();
        });
    }

    /**
     * Answers {@code status} and closes the stream. Closing matters: DATA that arrived while
     * reading was paused for the connect waits in the stream channel, and a stream channel that
     * nobody reads is never closed by Netty, so those frames would leak.
     */
    private static void refuse(Http2StreamChannel stream, String status) {
        stream.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status(status), true)).addListener(f -> stream.close());
    }
}
