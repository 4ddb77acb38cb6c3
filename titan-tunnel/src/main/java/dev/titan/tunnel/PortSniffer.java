package dev.titan.tunnel;

import dev.titan.core.ingress.ClientHello;
import dev.titan.core.net.TimedDecoder;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Port sharing on the tunnel port: tells a tunnel, a TLS ClientHello and an HTTP request apart by
 * their first bytes ("TTUN", 0x16, a method name) and hands the connection, bytes included, to
 * the tunnel handshake, the {@link TunnelSniIngress} or the {@link TunnelHttpIngress}. Anything
 * else is closed at once and counted as malformed.
 */
final class PortSniffer extends TimedDecoder {
    private static final Logger log = LoggerFactory.getLogger(PortSniffer.class);
    private static final int LONGEST_METHOD = 7; // OPTIONS, CONNECT

    private final TunnelServer server;
    private final boolean secure;

    /** {@code secure}: the bytes come out of TLS the server terminated. */
    PortSniffer(TunnelServer server, boolean secure) {
        super(server.config().settings().handshakeTimeout());
        this.server = server;
        this.secure = secure;
    }

    @Override
    protected void timedOut(ChannelHandlerContext ctx) {
        server.failed("timeout");
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (!in.isReadable()) {
            return;
        }
        ChannelPipeline p = ctx.pipeline();
        if (!secure && ClientHello.startsRecord(in.getByte(in.readerIndex()))) {
            // a TLS handshake record: passthrough by SNI, or terminated here when no client serves the name
            p.addAfter(ctx.name(), "sni", new TunnelSniIngress(server, server.forwarder(), server.config().settings().handshakeTimeout()));
            p.remove(this);
            return;
        }
        int n = Math.min(in.readableBytes(), TunnelProtocol.MAGIC.length);
        boolean tunnel = true;
        for (int i = 0; i < n && tunnel; i++) {
            tunnel = in.getByte(in.readerIndex() + i) == TunnelProtocol.MAGIC[i];
        }
        if (tunnel && n < TunnelProtocol.MAGIC.length) {
            return; // "T" might be TTUN or TRACE: wait for more
        }
        if (tunnel) {
            p.addAfter(ctx.name(), "handshake", new ServerHandshake(server));
            p.remove(this);
            return;
        }
        // HTTP starts with a method: upper-case letters and a space
        int limit = Math.min(in.readableBytes(), LONGEST_METHOD + 1);
        int i = 0;
        while (i < limit && in.getByte(in.readerIndex() + i) >= 'A' && in.getByte(in.readerIndex() + i) <= 'Z') {
            i++;
        }
        if (i == limit && limit <= LONGEST_METHOD) {
            return; // still reading the method
        }
        if (i == 0 || i == limit || in.getByte(in.readerIndex() + i) != ' ') {
            server.failed("malformed");
            log.debug("connection from {} closed: neither a tunnel nor HTTP", ctx.channel().remoteAddress());
            in.skipBytes(in.readableBytes());
            ctx.close();
            return;
        }
        p.addAfter(ctx.name(), "http", new TunnelHttpIngress(server, server.forwarder(), server.config().settings().handshakeTimeout(), secure));
        p.remove(this); // what was read goes on to the chosen handler
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        server.failed("malformed");
        log.debug("connection from {} closed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
