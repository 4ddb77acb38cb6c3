package dev.titan.tunnel;

import dev.titan.core.net.Connector;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.AbstractSniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.time.Duration;
import java.util.Locale;

/**
 * TLS passthrough by SNI: reads the ClientHello's server name without decrypting anything, opens a
 * stream to the client that serves that name, and relays the encrypted bytes (ClientHello first)
 * both ways; the TLS session is between the user and the service behind NAT. A ClientHello without
 * a name, or a name no tunnel serves, is for the server itself: TLS ends here when the server has a
 * certificate (tls:// and wss:// tunnels, HTTPS to HTTP services), else the connection closes.
 */
final class SniIngress extends AbstractSniHandler<Http2StreamChannel> {
    private final TunnelServer server;
    private String clientId;
    private SslContext terminate;
    private final HeldInputEnd inputEnd = new HeldInputEnd();

    SniIngress(TunnelServer server, Duration helloTimeout) {
        super(helloTimeout.toMillis());
        this.server = server;
    }

    @Override
    protected Future<Http2StreamChannel> lookup(ChannelHandlerContext ctx, String hostname) {
        Promise<Http2StreamChannel> p = ctx.executor().newPromise();
        TunnelServer.Route route = hostname == null ? null : server.route(hostname.toLowerCase(Locale.ROOT), "tls");
        if (route == null) {
            terminate = server.tlsContext();
            return terminate != null ? p.setSuccess(null) : p.setFailure(new IllegalStateException("no tunnel serves TLS name " + hostname));
        }
        clientId = route.session().clientId();
        // the ClientHello stays with this handler and follows once the stream is accepted
        server.open(route, ctx.channel(), Unpooled.EMPTY_BUFFER).addListener(f -> {
            if (f.isSuccess()) {
                p.trySuccess((Http2StreamChannel) f.getNow());
            } else {
                p.tryFailure(f.cause());
            }
        });
        return p;
    }

    /** A FIN while the stream is being opened waits for the relay, after the bytes before it. */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (!(clientId != null && inputEnd.hold(evt))) {
            super.userEventTriggered(ctx, evt);
        }
    }

    @Override
    protected void onLookupComplete(ChannelHandlerContext ctx, String hostname, Future<Http2StreamChannel> future) {
        if (terminate != null && future.isSuccess() && future.getNow() == null) {
            server.terminateTls(ctx, terminate);
            ctx.pipeline().remove(this); // the buffered ClientHello goes on to the TLS handler
            return;
        }
        if (!future.isSuccess() || !ctx.channel().isActive()) {
            if (future.isSuccess()) {
                future.getNow().close();
            }
            ctx.close();
            return;
        }
        ctx.channel().config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        ctx.channel().config().setOption(ChannelOption.WRITE_BUFFER_WATER_MARK, Connector.WATER_MARK);
        server.relay(ctx.channel(), future.getNow(), clientId);
        ctx.pipeline().remove(this); // the buffered ClientHello goes on to the relay, then everything after it
        inputEnd.passOn(ctx);
    }
}
