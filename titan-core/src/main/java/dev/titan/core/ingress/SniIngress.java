package dev.titan.core.ingress;

import dev.titan.core.route.DestinationRequest;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import java.time.Duration;

/**
 * TLS passthrough by server name: reads the ClientHello's SNI without decrypting anything, and
 * forwards the connection, ClientHello first, to the cluster its route names; the TLS session is
 * between the client and the endpoint. A hello without a name routes with no SNI (a rule without
 * an {@code sni} match can still take it).
 */
public class SniIngress extends Ingress {
    public SniIngress(String listener, Forwarder forwarder, Duration helloTimeout) {
        super(listener, forwarder, helloTimeout);
    }

    @Override
    protected DestinationRequest decide(ChannelHandlerContext ctx, ByteBuf in) throws Malformed {
        String name = ClientHello.serverName(in);
        if (name == null) {
            return null;
        }
        DestinationRequest r = DestinationRequest.of(listener, ctx.channel(), DestinationRequest.TLS);
        return name.isEmpty() ? r : r.withSni(name);
    }
}
