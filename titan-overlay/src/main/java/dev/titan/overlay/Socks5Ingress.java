package dev.titan.overlay;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.ingress.Forwarder;
import dev.titan.core.ingress.Ingress;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
import dev.titan.tunnel.StreamTargets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.NetUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A SOCKS5 proxy port (RFC 1928) with username/password authentication (RFC 1929): reads the
 * greeting, the credentials and the CONNECT request, and makes a request for the target as the
 * user named it (a domain stays a name: it is resolved at the edge). The success reply is sent
 * once the edge has connected; a failure is answered with the reply code that says what failed
 * ({@link ProxyFailure}). A client without credentials is admitted only by its source address or
 * on a proxy configured as open.
 */
final class Socks5Ingress extends Ingress {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger("dev.titan.overlay.pop");
    private static final int VERSION = 5;
    private static final int NO_AUTH = 0x00;
    private static final int USER_PASSWORD = 0x02;
    private static final int NO_ACCEPTABLE = 0xFF;
    private static final int CONNECT = 0x01;
    private static final int UDP_ASSOCIATE = 0x03;
    private static final int ATYP_IPV4 = 0x01;
    private static final int ATYP_DOMAIN = 0x03;
    private static final int ATYP_IPV6 = 0x04;

    private enum Stage { GREETING, AUTH, REQUEST, FIRST_FLIGHT, UDP }

    private final PopContext pop;
    /** 0-RTT: how long to wait for the client's first bytes after answering its CONNECT at once; null: answer once connected. */
    private final Duration zeroRtt;
    private Stage stage = Stage.GREETING;
    private String user;
    private final FirstFlight flight;

    Socks5Ingress(String listener, Forwarder forwarder, Duration timeout, PopContext pop, Duration zeroRtt) {
        super(listener, forwarder, timeout);
        this.pop = pop;
        this.zeroRtt = zeroRtt;
        this.flight = zeroRtt == null ? null : new FirstFlight(zeroRtt);
    }

    @Override
    protected DestinationRequest decide(ChannelHandlerContext ctx, ByteBuf in) throws Malformed {
        while (true) {
            switch (stage) {
                case GREETING -> {
                    if (!greeting(ctx, in)) {
                        return null;
                    }
                }
                case AUTH -> {
                    if (!auth(ctx, in)) {
                        return null;
                    }
                }
                case REQUEST -> {
                    DestinationRequest r = request(ctx, in);
                    if (r == null || zeroRtt == null) {
                        return r;
                    }
                    answerAtOnce(ctx, r); // 0-RTT: the client sends its first bytes now, and they go with the stream's open
                }
                case FIRST_FLIGHT -> {
                    return flight.ready(in.isReadable());
                }
                case UDP -> {
                    in.skipBytes(in.readableBytes()); // the control connection of a UDP association carries nothing
                    return null;
                }
            }
            if (!ctx.channel().isActive() || ctx.isRemoved()) {
                return null;
            }
        }
    }

    private void answerAtOnce(ChannelHandlerContext ctx, DestinationRequest r) {
        stage = Stage.FIRST_FLIGHT;
        ctx.writeAndFlush(success(ctx.channel()));
        flight.start(ctx, r, () -> decideNow(ctx));
    }

    /** VER NMETHODS METHODS: chooses user/password, or no authentication where the source or an open proxy allows. */
    private boolean greeting(ChannelHandlerContext ctx, ByteBuf in) throws Malformed {
        if (in.readableBytes() < 2) {
            return false;
        }
        int r = in.readerIndex();
        if (in.getUnsignedByte(r) != VERSION) {
            throw new Malformed(400, "not SOCKS5 (version " + in.getUnsignedByte(r) + ")");
        }
        int n = in.getUnsignedByte(r + 1);
        if (n == 0) {
            throw new Malformed(400, "a SOCKS5 greeting with no method");
        }
        if (in.readableBytes() < 2 + n) {
            return false;
        }
        boolean offersNone = false;
        boolean offersPassword = false;
        for (int i = 0; i < n; i++) {
            int m = in.getUnsignedByte(r + 2 + i);
            offersNone |= m == NO_AUTH;
            offersPassword |= m == USER_PASSWORD;
        }
        in.skipBytes(2 + n);
        String bySource = offersNone ? pop.users.bySource((InetSocketAddress) ctx.channel().remoteAddress()) : null;
        if (bySource != null) {
            user = bySource;
            reply(ctx, VERSION, NO_AUTH);
            stage = Stage.REQUEST;
            if (refusedByLimits(ctx, in)) {
                return false;
            }
        } else if (offersPassword) {
            reply(ctx, VERSION, USER_PASSWORD);
            stage = Stage.AUTH;
        } else {
            pop.meters.authFailed("socks5");
            ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {VERSION, (byte) NO_ACCEPTABLE})).addListener(ChannelFutureListener.CLOSE);
            in.skipBytes(in.readableBytes());
            return false;
        }
        return true;
    }

    /** RFC 1929: VER ULEN UNAME PLEN PASSWD. */
    private boolean auth(ChannelHandlerContext ctx, ByteBuf in) throws Malformed {
        int r = in.readerIndex();
        if (in.readableBytes() < 2) {
            return false;
        }
        if (in.getUnsignedByte(r) != 1) {
            throw new Malformed(400, "not a SOCKS5 username/password request");
        }
        int ulen = in.getUnsignedByte(r + 1);
        if (in.readableBytes() < 2 + ulen + 1) {
            return false;
        }
        int plen = in.getUnsignedByte(r + 2 + ulen);
        if (in.readableBytes() < 3 + ulen + plen) {
            return false;
        }
        String name = in.toString(r + 2, ulen, StandardCharsets.UTF_8);
        byte[] password = new byte[plen];
        in.getBytes(r + 3 + ulen, password);
        in.skipBytes(3 + ulen + plen);
        try {
            user = pop.authenticate(name, password);
        } catch (IllegalArgumentException e) {
            user = null;
            log.info("[PROXY_FAILED] client={} error=http_request_denied (username: {})", ctx.channel().remoteAddress(), e.getMessage());
        }
        if (user == null) {
            pop.meters.authFailed("socks5");
            ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1, 1})).addListener(ChannelFutureListener.CLOSE);
            in.skipBytes(in.readableBytes());
            return false;
        }
        reply(ctx, 1, 0);
        stage = Stage.REQUEST;
        return !refusedByLimits(ctx, in);
    }

    /** The user's limits refuse this connection: a failure reply (after the login's success, as a request's) and close. */
    private boolean refusedByLimits(ChannelHandlerContext ctx, ByteBuf in) {
        ProxyFailure no = pop.admit(user, ctx.channel());
        if (no == null) {
            return false;
        }
        log.info("[PROXY_FAILED] user={} client={} error={} ({})", user, ctx.channel().remoteAddress(), no.error(), no.detail());
        in.skipBytes(in.readableBytes());
        failAndClose(ctx.channel(), no.socksReply());
        return true;
    }

    /** VER CMD RSV ATYP DST.ADDR DST.PORT. */
    private DestinationRequest request(ChannelHandlerContext ctx, ByteBuf in) throws Malformed {
        int r = in.readerIndex();
        if (in.readableBytes() < 5) {
            return null;
        }
        if (in.getUnsignedByte(r) != VERSION) {
            throw new Malformed(400, "a SOCKS5 request of version " + in.getUnsignedByte(r));
        }
        int cmd = in.getUnsignedByte(r + 1);
        int atyp = in.getUnsignedByte(r + 3);
        int addrLen = switch (atyp) {
            case ATYP_IPV4 -> 4;
            case ATYP_IPV6 -> 16;
            case ATYP_DOMAIN -> 1 + in.getUnsignedByte(r + 4);
            default -> throw new Malformed(400, "a SOCKS5 address of type " + atyp);
        };
        int length = 4 + addrLen + 2;
        if (in.readableBytes() < length) {
            return null;
        }
        String host;
        if (atyp == ATYP_DOMAIN) {
            host = in.toString(r + 5, addrLen - 1, StandardCharsets.US_ASCII);
            if (host.isEmpty()) {
                throw new Malformed(400, "an empty SOCKS5 domain");
            }
        } else {
            byte[] a = new byte[addrLen];
            in.getBytes(r + 4, a);
            host = NetUtil.bytesToIpAddress(a);
        }
        int port = in.getUnsignedShort(r + 4 + addrLen);
        in.skipBytes(length);
        if (cmd == UDP_ASSOCIATE) {
            stage = Stage.UDP;
            stopClock(); // the control connection lives as long as the association
            DestinationRequest udp = DestinationRequest.of(listener, ctx.channel(), DestinationRequest.UDP).withUser(user)
                    .withTarget(StreamTargets.DATAGRAMS, 0);
            Router.Route route = forwarder.route(udp);
            if (route == null) {
                failAndClose(ctx.channel(), ProxyFailure.SOCKS_GENERAL);
                return null;
            }
            UdpAssociation.start(ctx.channel(), route, pop, pop.transport, user);
            return null;
        }
        if (cmd != CONNECT) {
            failAndClose(ctx.channel(), ProxyFailure.SOCKS_COMMAND_NOT_SUPPORTED);
            in.skipBytes(in.readableBytes());
            return null;
        }
        if (port == 0) {
            throw new Malformed(400, "a SOCKS5 CONNECT to port 0");
        }
        String target = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        return DestinationRequest.of(listener, ctx.channel(), DestinationRequest.SOCKS5).withUser(user).withTarget(target, port);
    }

    /** The user closed a UDP association's control connection (its FIN, with half-closure on): the association ends. */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (stage == Stage.UDP && dev.titan.core.net.EarlyInput.isEndOfInput(evt)) {
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    protected ByteBuf firstBytes(ChannelHandlerContext ctx, ByteBuf in, DestinationRequest request) {
        if (flight != null) {
            flight.done();
        }
        pop.browserInfo(request, null, in);
        return super.firstBytes(ctx, in, request);
    }

    @Override
    protected void connected(Channel client, Router.Route route, Cluster.Connection up) {
        pop.connected(route.request(), client, route.cluster(), up);
        if (flight != null && flight.answered()) {
            return; // answered already
        }
        client.writeAndFlush(success(client), client.voidPromise());
    }

    @Override
    protected void refused(Channel client, Router.Route route, Throwable cause) {
        ProxyFailure f = pop.failed(route, cause);
        if (flight != null && flight.answered()) {
            client.close(); // 0-RTT: the success reply went out already; the log says why
            return;
        }
        failAndClose(client, f.socksReply());
    }

    @Override
    protected void noRoute(ChannelHandlerContext ctx, ByteBuf in, DestinationRequest request) {
        forwarder.error("no_route");
        in.skipBytes(in.readableBytes());
        failAndClose(ctx.channel(), ProxyFailure.SOCKS_GENERAL);
    }

    /** A two-byte answer (a method choice, a login's outcome), in a buffer of the channel's pool: written as it is, without a copy. */
    private static void reply(ChannelHandlerContext ctx, int a, int b) {
        ctx.writeAndFlush(ctx.alloc().ioBuffer(2).writeByte(a).writeByte(b));
    }

    /** The success reply to a CONNECT (bound address 0.0.0.0:0, which clients do not use). */
    private static ByteBuf success(Channel ch) {
        return ch.alloc().ioBuffer(10).writeByte(VERSION).writeZero(2).writeByte(ATYP_IPV4).writeZero(6);
    }

    private static void failAndClose(Channel ch, int code) {
        if (ch.isActive()) {
            ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {VERSION, (byte) code, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0}))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }
}
