package dev.titan.tunnel;

import dev.titan.core.ingress.Forwarder;
import dev.titan.core.ingress.SniIngress;
import dev.titan.core.route.DestinationRequest;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.SslContext;
import java.time.Duration;

/**
 * TLS on the tunnel port: passed through by SNI to the client that published the name; a hello
 * with no name, or a name no tunnel serves, is for the server itself: TLS ends here when the
 * server has a certificate (tls:// and wss:// tunnels, HTTPS to HTTP services), else the
 * connection closes.
 */
final class TunnelSniIngress extends SniIngress {
    private final TunnelServer server;

    TunnelSniIngress(TunnelServer server, Forwarder forwarder, Duration helloTimeout) {
        super(TunnelServer.LISTENER, forwarder, helloTimeout);
        this.server = server;
    }

    @Override
    protected void noRoute(ChannelHandlerContext ctx, ByteBuf in, DestinationRequest request) {
        SslContext context = server.tlsContext();
        if (context == null) {
            super.noRoute(ctx, in, request);
            return;
        }
        server.terminateTls(ctx, context);
        ctx.pipeline().remove(this); // the ClientHello goes on to the TLS handler
    }
}
