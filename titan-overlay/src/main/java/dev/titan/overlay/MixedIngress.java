package dev.titan.overlay;

import dev.titan.core.net.TimedDecoder;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

/**
 * One port for SOCKS5 and HTTP proxy clients (as gost's {@code auto} and mihomo's mixed port): a
 * first byte of 5 is a SOCKS5 greeting, anything else an HTTP request line. Hands the connection,
 * with what it read, to the ingress of that protocol.
 */
final class MixedIngress extends TimedDecoder {
    private static final int SOCKS5 = 5;

    private final Supplier<ChannelHandler> socks;
    private final Supplier<ChannelHandler> http;
    private final PopMeters meters;

    MixedIngress(Duration timeout, Supplier<ChannelHandler> socks, Supplier<ChannelHandler> http, PopMeters meters) {
        super(timeout);
        this.socks = socks;
        this.http = http;
        this.meters = meters;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        super.handlerAdded(ctx);
        ctx.channel().config().setAutoRead(true);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (!in.isReadable()) {
            return;
        }
        ChannelHandler next = in.getUnsignedByte(in.readerIndex()) == SOCKS5 ? socks.get() : http.get();
        ctx.pipeline().addAfter(ctx.name(), null, next);
        ctx.pipeline().remove(this); // what was read goes on to the new ingress
    }

    @Override
    protected void timedOut(ChannelHandlerContext ctx) {
        meters.failed("timeout");
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
