package dev.titan.overlay;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.net.EarlyInput;
import dev.titan.core.net.Relay;
import dev.titan.core.net.Transport;
import dev.titan.core.route.Router;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * A SOCKS5 UDP ASSOCIATE at the PoP (RFC 1928 §7): a UDP socket for the user, and one stream to
 * an edge that carries the user's datagrams both ways. A datagram from the user (only from the
 * address its control connection came from) loses its SOCKS5 header's first three bytes and goes
 * into the stream as a frame (2-byte length, the target's SOCKS5 address, the payload); an answer
 * comes back the same way and gets its header again. Fragments are not supported (dropped, as the
 * RFC allows). The association ends with its control connection, and the control connection with
 * it. The datagrams count in the user's usage, bandwidth aside.
 */
final class UdpAssociation {
    private UdpAssociation() {
    }

    /** Connects the association through {@code route} for {@code control}, then answers the UDP ASSOCIATE (or its failure). */
    static void start(Channel control, Router.Route route, PopContext pop, Transport transport, String user) {
        Cluster cluster = route.cluster();
        cluster.connect(control.eventLoop(), route.request(), route.eligible()).addListener((Future<Cluster.Connection> f) -> {
            route.request().release();
            if (!f.isSuccess()) {
                ProxyFailure failure = pop.failed(route, f.cause());
                reply(control, failure.socksReply(), null).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            Cluster.Connection up = f.getNow();
            Channel stream = up.channel();
            if (up.early() != null) {
                up.early().release();
            }
            if (!control.isActive()) {
                stream.close();
                return;
            }
            cluster.opened(up);
            InetAddress local = ((InetSocketAddress) control.localAddress()).getAddress();
            InetAddress owner = ((InetSocketAddress) control.remoteAddress()).getAddress();
            Relay.Stats stats = pop.accounts.accounting(user, stream, pop.meters.user(user)).stats();
            FromUser fromUser = new FromUser(stream, owner, stats);
            new Bootstrap().group(control.eventLoop()).channel(transport.datagramChannel()).handler(fromUser)
                    .bind(new InetSocketAddress(local, 0)).addListener((ChannelFuture b) -> {
                        if (!b.isSuccess()) {
                            stream.close();
                            reply(control, ProxyFailure.SOCKS_GENERAL, null).addListener(ChannelFutureListener.CLOSE);
                            return;
                        }
                        Channel udp = b.channel();
                        control.closeFuture().addListener(x -> {
                            udp.close();
                            stream.close();
                        });
                        stream.closeFuture().addListener(x -> {
                            udp.close();
                            control.close();
                        });
                        stream.pipeline().addLast("frames", new LengthFieldBasedFrameDecoder(UdpExit.MAX_FRAME, 0, 2, 0, 2))
                                .addLast("to-user", new ToUser(udp, fromUser, stats));
                        EarlyInput.replay(stream);
                        stream.config().setAutoRead(true);
                        reply(control, 0, (InetSocketAddress) udp.localAddress());
                    });
        });
    }

    /** VER REP RSV BND.ADDR BND.PORT. */
    private static ChannelFuture reply(Channel control, int code, InetSocketAddress bound) {
        ByteBuf r = control.alloc().buffer(22);
        r.writeByte(5).writeByte(code).writeByte(0);
        if (bound == null) {
            r.writeByte(SocksAddress.IPV4).writeInt(0).writeShort(0);
        } else {
            SocksAddress.write(r, bound);
        }
        return control.writeAndFlush(r);
    }

    /** Datagrams from the user: from its address only, whole (no fragments), into the stream as frames. */
    private static final class FromUser extends SimpleChannelInboundHandler<DatagramPacket> {
        private final Channel stream;
        private final InetAddress owner;
        private final Relay.Stats stats;
        volatile InetSocketAddress user;

        FromUser(Channel stream, InetAddress owner, Relay.Stats stats) {
            this.stream = stream;
            this.owner = owner;
            this.stats = stats;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket p) {
            ByteBuf in = p.content();
            if (!p.sender().getAddress().equals(owner) || in.readableBytes() < 4 || in.getByte(in.readerIndex() + 2) != 0
                    || !stream.isWritable()) {
                return; // a stranger, a fragment, or a full stream: dropped, as UDP may be
            }
            user = p.sender();
            in.skipBytes(3); // RSV RSV FRAG
            stats.bytesFromA(in.readableBytes());
            ByteBuf frame = ctx.alloc().buffer(2 + in.readableBytes());
            frame.writeShort(in.readableBytes()).writeBytes(in);
            stream.writeAndFlush(frame, stream.voidPromise());
        }
    }

    /** Frames from the edge: a SOCKS5 UDP header again, to the user's address. */
    private static final class ToUser extends ChannelInboundHandlerAdapter {
        private final Channel udp;
        private final FromUser from;
        private final Relay.Stats stats;

        ToUser(Channel udp, FromUser from, Relay.Stats stats) {
            this.udp = udp;
            this.from = from;
            this.stats = stats;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf frame = (ByteBuf) msg;
            InetSocketAddress to = from.user;
            if (to == null) {
                frame.release();
                return;
            }
            stats.bytesFromB(frame.readableBytes());
            udp.writeAndFlush(new DatagramPacket(Unpooled.wrappedBuffer(Unpooled.wrappedBuffer(new byte[] {0, 0, 0}), frame), to),
                    udp.voidPromise());
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (EarlyInput.isEndOfInput(evt)) {
                ctx.close();
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
