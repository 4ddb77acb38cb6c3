package dev.titan.tunnel;

import dev.titan.core.net.Relay;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;

/**
 * Makes an HTTP/2 stream channel look like a socket to the {@link Relay}: DATA frames in become
 * bytes, bytes out become DATA frames, END_STREAM in becomes an input shutdown (the peer's FIN),
 * and the relay's {@link Relay#END_OF_OUTPUT} becomes END_STREAM out. HEADERS frames pass through
 * for the role handler; a RST_STREAM closes the channel.
 */
final class StreamAdapter extends ChannelDuplexHandler {
    private boolean inputEnded;
    private boolean outputEnded;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        ctx.channel().attr(Relay.END_OF_OUTPUT_SUPPORTED).set(Boolean.TRUE);
        ctx.channel().config().setRecvByteBufAllocator(StreamReads.INSTANCE);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2DataFrame data) {
            boolean end = data.isEndStream();
            ByteBuf content = data.content(); // the frame's reference is the content's
            if (content.isReadable()) {
                ctx.fireChannelRead(content);
            } else {
                content.release();
            }
            if (end) {
                endInput(ctx);
            }
        } else if (msg instanceof Http2HeadersFrame headers) {
            ctx.fireChannelRead(headers);
            if (headers.isEndStream()) {
                endInput(ctx);
            }
        } else if (msg instanceof Http2ResetFrame) {
            ctx.close();
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void endInput(ChannelHandlerContext ctx) {
        if (!inputEnded) {
            inputEnded = true;
            ctx.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof ByteBuf buf) {
            ctx.write(new DefaultHttp2DataFrame(buf, false), promise);
        } else if (msg == Relay.END_OF_OUTPUT) {
            outputEnded = true;
            ctx.write(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true), promise);
        } else {
            if (msg instanceof Http2HeadersFrame h && h.isEndStream()) {
                outputEnded = true;
            }
            ctx.write(msg, promise);
        }
    }

    /**
     * Closes gracefully: a stream closed with output still open would be reset, and a reset drops
     * the DATA still queued behind HTTP/2 flow control. So END_STREAM goes first, and the stream
     * closes once everything before it has been written.
     */
    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        if (outputEnded || !ctx.channel().isActive()) {
            ctx.close(promise);
            return;
        }
        outputEnded = true;
        ctx.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true)).addListener(f -> ctx.close(promise));
    }
}
