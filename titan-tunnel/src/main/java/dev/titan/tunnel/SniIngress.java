package dev.titan.tunnel;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.net.RelayOptions;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
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
final class SniIngress extends AbstractSniHandler<Cluster.Connection> {
    private final TunnelServer server;
    private Cluster cluster;
    private SslContext terminate;
    private final HeldInputEnd inputEnd = new HeldInputEnd();

    SniIngress(TunnelServer server, Duration helloTimeout) {
        super(helloTimeout.toMillis());
        this.server = server;
    }

    @Override
    protected Future<Cluster.Connection> lookup(ChannelHandlerContext ctx, String hostname) {
        Promise<Cluster.Connection> p = ctx.executor().newPromise();
        Router.Route route = hostname == null ? null
                : server.router().route(DestinationRequest.of(HttpIngress.LISTENER, ctx.channel(), DestinationRequest.TLS).withSni(hostname));
        if (route == null) {
            terminate = server.tlsContext();
            return terminate != null ? p.setSuccess(null) : p.setFailure(new IllegalStateException("no tunnel serves TLS name " + hostname));
        }
        cluster = route.cluster();
        // the ClientHello stays with this handler and follows once the stream is accepted
        server.connect(route, ctx.channel()).addListener((Future<Cluster.Connection> f) -> {
            if (f.isSuccess()) {
                p.trySuccess(f.getNow());
            } else {
                p.tryFailure(f.cause());
            }
        });
        return p;
    }

    /** A FIN while the stream is being opened waits for the relay, after the bytes before it. */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (!(cluster != null && inputEnd.hold(evt))) {
            super.userEventTriggered(ctx, evt);
        }
    }

    @Override
    protected void onLookupComplete(ChannelHandlerContext ctx, String hostname, Future<Cluster.Connection> future) {
        if (terminate != null && future.isSuccess() && future.getNow() == null) {
            server.terminateTls(ctx, terminate);
            ctx.pipeline().remove(this); // the buffered ClientHello goes on to the TLS handler
            return;
        }
        if (!future.isSuccess() || !ctx.channel().isActive()) {
            if (future.isSuccess()) {
                future.getNow().channel().close();
            }
            ctx.close();
            return;
        }
        RelayOptions.apply(ctx.channel());
        server.relay(ctx.channel(), future.getNow(), cluster, cluster.name().substring(TunnelRegistry.CLUSTER_PREFIX.length()));
        ctx.pipeline().remove(this); // the buffered ClientHello goes on to the relay, then everything after it
        inputEnd.passOn(ctx);
    }
}
