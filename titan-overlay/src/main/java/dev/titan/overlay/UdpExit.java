package dev.titan.overlay;

import dev.titan.core.net.EarlyInput;
import dev.titan.core.net.Transport;
import dev.titan.tunnel.MuxHead;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An edge's side of a user's UDP association: a stream that carries datagrams, each a frame of a
 * 2-byte length, then the SOCKS5 address of its target or source, then its payload. The edge sends
 * each datagram from a UDP socket of its own to the target, resolved here and checked against the
 * egress policy like any connection (a refused datagram is dropped and counted), and sends each
 * answer back through the stream with the address it came from.
 */
final class UdpExit extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(UdpExit.class);
    /** A frame: the length, an address of at most 1 + 1 + 255 + 2 bytes, and a datagram of at most 65,535 bytes. */
    static final int MAX_FRAME = 2 + 259 + 65_535;

    private final EgressTargets targets;
    private final Channel udp;
    final LongAdder refused = new LongAdder();

    private UdpExit(EgressTargets targets, Channel udp) {
        this.targets = targets;
        this.udp = udp;
    }

    /** Binds a UDP socket for {@code stream} on its loop, answers 200 and relays; false (refused) when no socket can be bound. */
    static void start(Channel stream, EgressTargets targets, Transport transport) {
        ChannelFuture bound = new Bootstrap().group(stream.eventLoop()).channel(transport.datagramChannel())
                .handler(new Answers(stream)).bind(new InetSocketAddress(0));
        bound.addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                log.debug("UDP association: cannot bind a socket: {}", f.cause().toString());
                stream.writeAndFlush(MuxHead.status("502", true))
                        .addListener(x -> stream.close());
                return;
            }
            Channel udp = f.channel();
            if (!stream.isActive()) {
                udp.close();
                return;
            }
            stream.closeFuture().addListener(x -> udp.close());
            udp.closeFuture().addListener(x -> stream.close());
            stream.writeAndFlush(MuxHead.status("200", false));
            stream.pipeline().addLast("frames", new LengthFieldBasedFrameDecoder(MAX_FRAME, 0, 2, 0, 2))
                    .addLast("udp-exit", new UdpExit(targets, udp));
            EarlyInput.replay(stream);
            stream.config().setAutoRead(true);
        });
    }

    /** A datagram from the user: to its target, if the policy allows it. */
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf frame = (ByteBuf) msg;
        SocksAddress to;
        try {
            to = SocksAddress.read(frame);
        } catch (IllegalArgumentException e) {
            frame.release();
            log.debug("UDP association: a datagram without a valid address: {}", e.getMessage());
            return;
        }
        ByteBuf payload = frame; // what is left after the address
        targets.resolve(to.authority(), ctx.channel().eventLoop()).addListener(f -> {
            if (!f.isSuccess()) {
                refused.increment();
                log.debug("UDP datagram to {} dropped: {}", to.authority(), f.cause().getMessage());
                payload.release();
                return;
            }
            InetSocketAddress target = ((dev.titan.tunnel.StreamTargets.Target) f.getNow()).address();
            udp.writeAndFlush(new DatagramPacket(payload, target)).addListener(w -> {
                if (!w.isSuccess()) {
                    log.debug("UDP datagram to {} not sent: {}", target, w.cause().toString());
                }
            });
        });
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (EarlyInput.isEndOfInput(evt)) {
            ctx.close(); // the PoP ended the association
        }
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    /** Datagrams back from targets: framed with where they came from, into the stream (dropped while it is full, as UDP may). */
    private static final class Answers extends SimpleChannelInboundHandler<DatagramPacket> {
        private final Channel stream;

        Answers(Channel stream) {
            this.stream = stream;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket p) {
            if (!stream.isActive() || !stream.isWritable()) {
                return;
            }
            ByteBuf content = p.content();
            ByteBuf frame = ctx.alloc().buffer(2 + 19 + content.readableBytes());
            frame.writeShort(0);
            SocksAddress.write(frame, p.sender());
            frame.writeBytes(content);
            frame.setShort(0, frame.readableBytes() - 2);
            stream.writeAndFlush(frame, stream.voidPromise());
        }
    }
}
