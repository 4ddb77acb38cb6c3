package dev.titan.tunnel;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.ingress.Forwarder;
import dev.titan.core.ingress.HttpHead;
import dev.titan.core.ingress.HttpIngress;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * HTTP on the tunnel port: by Host to the client that published it (GT's way), and a WebSocket
 * upgrade on the tunnel path becomes a tunnel (ws:// and wss://). Refusals say what the tunnel
 * knows: no tunnel of that client is connected (503), its client is too busy (503), does not
 * publish the service or cannot reach it (502).
 */
final class TunnelHttpIngress extends HttpIngress {
    private final TunnelServer server;

    TunnelHttpIngress(TunnelServer server, Forwarder forwarder, Duration headTimeout, boolean secure) {
        super(TunnelServer.LISTENER, forwarder, headTimeout, secure);
        this.server = server;
    }

    @Override
    protected boolean served(ChannelHandlerContext ctx, ByteBuf in, HttpHead head) throws Malformed {
        if (!head.hasToken("upgrade", "websocket") || !server.wsPath().equals(head.path())) {
            return false;
        }
        String key = head.header("sec-websocket-key");
        if (key == null || !"13".equals(head.header("sec-websocket-version")) || !head.hasToken("connection", "upgrade")) {
            throw new Malformed(400, "a tunnel upgrade needs Connection: Upgrade, Sec-WebSocket-Key and Sec-WebSocket-Version: 13");
        }
        in.skipBytes(head.length());
        String response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
                + WebSockets.accept(key) + "\r\n\r\n";
        ctx.writeAndFlush(Unpooled.copiedBuffer(response, StandardCharsets.US_ASCII));
        server.becomeWebSocketTunnel(ctx);
        ctx.pipeline().remove(this); // frames that followed the request go on to the frame decoder
        return true;
    }

    @Override
    protected void noRoute(ChannelHandlerContext ctx, ByteBuf in, DestinationRequest request) {
        forwarder.error("no_route");
        in.skipBytes(in.readableBytes());
        respond(ctx.channel(), 404, request.httpHost() == null ? "no Host header" : "no tunnel serves " + request.httpHost());
    }

    @Override
    protected int status(Throwable cause) {
        if (cause instanceof TunnelConnector.Refused r) {
            return r.status.equals("503") ? 503 : 502;
        }
        return cause instanceof TunnelConnector.NotPublished ? 502 : super.status(cause);
    }

    @Override
    protected String reason(Router.Route route, Throwable cause) {
        String client = route.cluster().name().substring(TunnelRegistry.CLUSTER_PREFIX.length());
        if (cause instanceof Cluster.NoEndpointException) {
            return "no tunnel of client " + client + " is connected; try again later";
        }
        if (cause instanceof TunnelConnector.Refused r) {
            return r.status.equals("503") ? "the tunnel's client is too busy; try again later"
                    : "the tunnel's client cannot reach its local service";
        }
        if (cause instanceof TunnelConnector.NotPublished) {
            return "the tunnel's client does not publish this service";
        }
        if (cause instanceof TunnelConnector.Unanswered) {
            return "the tunnel could not open a stream";
        }
        return super.reason(route, cause);
    }
}
