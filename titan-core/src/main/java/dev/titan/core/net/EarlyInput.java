package dev.titan.core.net;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * Keeps what a connection delivers before its {@link Relay} starts, for the relay. A proxy turns
 * auto-read off on a new connection until its other side is ready, but that does not stop every
 * read: when the peer has already sent its FIN, Netty's epoll transport reads the bytes before it
 * and the FIN itself on the hang-up event, auto-read or not. Without this handler those bytes and
 * the end of input would pass the pipeline before anyone relays them, and be lost: a client that
 * sends its request and FIN at once (as {@code nc -N} does) would never be answered.
 *
 * <p>Add it at the end of a new connection's pipeline; {@link Relay#start} replays what it holds,
 * in order, to the relay, and removes it. What it holds is bounded by the socket's receive buffer:
 * the peer cannot send more than that before its FIN without being read.
 */
public final class EarlyInput extends ChannelInboundHandlerAdapter {
    public static final String NAME = "early-input";

    private final ArrayDeque<Object> held = new ArrayDeque<>();
    private ChannelHandlerContext ctx;

    /** Whether {@code evt} is the end of a channel's input (the peer's FIN). */
    public static boolean isEndOfInput(Object evt) {
        return evt == ChannelInputShutdownEvent.INSTANCE || evt == ChannelInputShutdownReadComplete.INSTANCE;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        held.add(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // nothing reads after this handler yet
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (isEndOfInput(evt)) {
            held.add(evt);
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    /** A connection that breaks before its relay starts is closed; nobody else would. */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        release();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        release();
        ctx.fireChannelInactive();
    }

    /**
     * Hands what {@code ch} received early, if it has this handler, to the handlers after it (the
     * relay's), and steps aside; on ch's loop, in order with what the caller does to ch next.
     */
    public static void replay(Channel ch) {
        if (ch.pipeline().get(NAME) instanceof EarlyInput early) {
            if (ch.eventLoop().inEventLoop()) {
                early.replay();
            } else {
                ch.eventLoop().execute(early::replay);
            }
        }
    }

    private void replay() {
        boolean read = false;
        for (Object o; (o = held.poll()) != null; ) {
            if (isEndOfInput(o)) {
                if (read) {
                    ctx.fireChannelReadComplete();
                    read = false;
                }
                ctx.fireUserEventTriggered(o);
            } else {
                ctx.fireChannelRead(o);
                read = true;
            }
        }
        if (read) {
            ctx.fireChannelReadComplete();
        }
        ctx.pipeline().remove(this);
    }

    private void release() {
        for (Object o; (o = held.poll()) != null; ) {
            ReferenceCountUtil.release(o);
        }
    }
}
