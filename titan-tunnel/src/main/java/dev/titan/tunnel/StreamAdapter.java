package dev.titan.tunnel;

import dev.titan.core.net.Relay;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Makes an HTTP/2 stream channel look like a socket to the {@link Relay}: DATA frames in become
 * bytes, bytes out become DATA frames, END_STREAM in becomes an input shutdown (the peer's FIN),
 * and the relay's {@link Relay#END_OF_OUTPUT} becomes END_STREAM out. HEADERS frames pass through
 * for the role handler; a RST_STREAM closes the channel.
 *
 * <p>A tunnel server or client keeps the set of its open streams (see {@link #track}), whatever
 * tunnel they came on. A stream whose tunnel ended with frames queued behind paused reading stays
 * open until its relay reads again, so that bytes which arrived before the end still reach their
 * connection; {@link #closeStreams} ends them all when their owner closes, and a tunnel that ends
 * while its event loop shuts down (nothing will ever read them) closes its own.
 */
final class StreamAdapter extends ChannelDuplexHandler {
    private static final AttributeKey<Set<Channel>> STREAMS = AttributeKey.valueOf("titan.tunnel.streams");

    private boolean inputEnded;
    private boolean outputEnded;
    /** The write of END_STREAM, once made (null while the output is open, or when it ended otherwise). */
    private ChannelFuture endOfOutput;
    private boolean closing;
    /** The peer reset the stream with NO_ERROR: it has all it wants; what we would send is dropped. */
    private boolean peerReadsNoMore;

    /** Keeps {@code tunnel}'s streams, from its first, in {@code streams} (its owner's set) while they are open. */
    static void track(Channel tunnel, Set<Channel> streams) {
        tunnel.attr(STREAMS).set(streams);
        tunnel.closeFuture().addListener(f -> {
            if (tunnel.eventLoop().isShuttingDown()) {
                closeStreams(streams.stream().filter(s -> s.parent() == tunnel).toList());
            }
        });
    }

    /**
     * Closes {@code streams} now, which releases the frames queued in them; their relays then close
     * the connections on the other side. For a close that must not wait; returns when they are
     * closed (or after a few seconds) unless called on an event loop.
     */
    static void closeStreams(Collection<Channel> streams) {
        List<ChannelFuture> closing = new ArrayList<>();
        for (Channel stream : List.copyOf(streams)) {
            closing.add(stream.close());
        }
        for (ChannelFuture f : closing) {
            if (!f.channel().eventLoop().inEventLoop()) {
                f.awaitUninterruptibly(5, TimeUnit.SECONDS);
            }
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        Channel ch = ctx.channel();
        ch.attr(Relay.END_OF_OUTPUT_SUPPORTED).set(Boolean.TRUE);
        ch.config().setRecvByteBufAllocator(StreamReads.INSTANCE);
        Set<Channel> streams = ch.parent() == null ? null : ch.parent().attr(STREAMS).get();
        if (streams != null) {
            streams.add(ch);
            ch.closeFuture().addListener(f -> streams.remove(ch));
        }
    }

    /**
     * The peer reset the stream. Netty hands RST_STREAM over as an event, ahead of any DATA still
     * queued behind paused reading, and otherwise closes the channel only once someone reads again.
     * NO_ERROR is how a Titan peer says "my output is complete, I read no more" (RFC 9113, 8.1): what
     * it sent before is delivered, and what we would still send is dropped. Any other code aborts:
     * the stream closes now, queued DATA with it, and its relay closes the other side (after Netty
     * has marked the stream closed, so that no RST_STREAM answers this one).
     */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame reset) {
            outputEnded = true; // nothing more can be sent on a reset stream
            if (reset.errorCode() == Http2Error.NO_ERROR.code()) {
                peerReadsNoMore = true;
            } else {
                ctx.channel().eventLoop().execute(() -> ctx.close());
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
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
        if (peerReadsNoMore) {
            ReferenceCountUtil.release(msg);
            promise.trySuccess();
        } else if (msg instanceof ByteBuf buf) {
            ctx.write(new DefaultHttp2DataFrame(buf, false), promise);
        } else if (msg == Relay.END_OF_OUTPUT) {
            outputEnded = true;
            ChannelPromise p = promise.unvoid();
            endOfOutput = p;
            ctx.write(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true), p);
        } else {
            if (msg instanceof Http2HeadersFrame h && h.isEndStream()) {
                outputEnded = true;
            }
            ctx.write(msg, promise);
        }
    }

    /**
     * Closes gracefully. Closing a stream whose output is still open, or whose END_STREAM still
     * waits behind HTTP/2 flow control, would reset it, and a reset drops the DATA queued before it:
     * the end of a response that a service wrote just before closing its connection. So the output
     * ends first (END_STREAM, unless it already went), and the stream closes once that has been
     * written; if the peer is still sending, it is told to stop with RST_STREAM(NO_ERROR), which
     * its side takes as a complete output, not an abort.
     */
    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        if (closing || !ctx.channel().isActive()) {
            ctx.close(promise);
            return;
        }
        closing = true;
        if (!outputEnded) {
            outputEnded = true;
            endOfOutput = ctx.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true));
        }
        ChannelFuture end = endOfOutput;
        if (end == null) { // ended by a HEADERS frame with END_STREAM (a refusal), or reset by the peer
            ctx.close(promise);
            return;
        }
        end.addListener(f -> {
            Http2FrameStream stream = ((Http2StreamChannel) ctx.channel()).stream();
            if (f.isSuccess() && stream.state() == Http2Stream.State.HALF_CLOSED_LOCAL) {
                ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.NO_ERROR)).addListener(r -> ctx.close(promise));
            } else {
                ctx.close(promise);
            }
        });
    }
}
