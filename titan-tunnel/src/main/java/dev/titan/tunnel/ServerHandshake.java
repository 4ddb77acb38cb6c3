package dev.titan.tunnel;

import dev.titan.core.store.Store;
import dev.titan.core.net.TimedDecoder;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Reads the magic and the Auth, answers, and on success hands the connection to its streams ({@link MuxSession}). */
final class ServerHandshake extends TimedDecoder {
    private static final Logger log = LoggerFactory.getLogger(ServerHandshake.class);

    private enum State { MAGIC, AUTH, DONE }

    private final TunnelServer server;
    private State state = State.MAGIC;
    private InetAddress ip;
    private boolean counted;
    private String nonce;
    private long challengeSent;

    ServerHandshake(TunnelServer server) {
        super(server.config().settings().handshakeTimeout());
        this.server = server;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        super.handlerAdded(ctx);
        ip = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
        counted = server.guard().startHandshake(ip);
        if (!counted) { // parallel guesses from one address: at most a few at a time
            server.failed("busy");
            state = State.DONE;
            ctx.close();
        }
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        if (counted) {
            counted = false;
            server.guard().endHandshake(ip);
        }
        super.handlerRemoved0(ctx);
    }

    @Override
    protected void timedOut(ChannelHandlerContext ctx) {
        server.failed("timeout");
        log.debug("tunnel handshake from {} timed out", ctx.channel().remoteAddress());
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (state == State.DONE) {
            in.skipBytes(in.readableBytes());
            return;
        }
        if (state == State.MAGIC) {
            // judge each byte as it arrives: a stranger is dropped at its first wrong byte, not at the timeout
            int seen = Math.min(in.readableBytes(), TunnelProtocol.MAGIC.length);
            for (int i = 0; i < seen; i++) {
                if (in.getByte(in.readerIndex() + i) != TunnelProtocol.MAGIC[i]) {
                    server.failed("malformed");
                    refuseNow(ctx, "not a Titan tunnel");
                    return;
                }
            }
            if (in.readableBytes() < TunnelProtocol.MAGIC.length + 1) {
                return;
            }
            in.skipBytes(TunnelProtocol.MAGIC.length);
            int version = in.readUnsignedByte();
            if (version != TunnelProtocol.VERSION) {
                server.failed("malformed");
                refuse(ctx, "unsupported tunnel version " + version + " (server speaks " + TunnelProtocol.VERSION + ")");
                return;
            }
            nonce = TunnelProtocol.newNonce();
            ctx.writeAndFlush(TunnelProtocol.encode(ctx.alloc(), new TunnelProtocol.Challenge(TunnelProtocol.VERSION, nonce)));
            challengeSent = System.nanoTime();
            state = State.AUTH;
        }
        TunnelProtocol.Auth auth = TunnelProtocol.decode(in, TunnelProtocol.Auth.class);
        if (auth == null) {
            return;
        }
        state = State.DONE;
        long blocked = server.guard().blockedMillis(ip);
        if (blocked > 0) { // a refused address waits out its delay: no secret is checked for it meanwhile
            server.failed("unknown_or_bad_secret");
            answer(ctx, "too many failed handshakes from this address; retry in " + blocked + " ms", blocked);
            return;
        }
        Store.User account = server.store().user(auth.id());
        TunnelServerConfig.User user = server.client(auth.id());
        // the same answer for an unknown id and a wrong secret: the reply must not reveal which ids exist
        if (account == null || user == null || !TunnelProtocol.proofMatches(account.secret(), nonce, auth.id(), auth.proof())) {
            server.failed("unknown_or_bad_secret");
            log.info("tunnel handshake from {} refused: unknown id or wrong secret", ctx.channel().remoteAddress());
            refuse(ctx, "unknown id or wrong secret");
            return;
        }
        String notAllowed = checkServices(user, auth);
        if (notAllowed != null) {
            server.failed("not_allowed");
            refuse(ctx, notAllowed);
            return;
        }
        if (server.sessions(user.id()).size() >= user.maxTunnels()) {
            server.failed("too_many_tunnels");
            refuse(ctx, "id " + user.id() + " already has " + user.maxTunnels() + " tunnels");
            return;
        }
        server.guard().succeeded(ip);
        ctx.writeAndFlush(TunnelProtocol.encode(ctx.alloc(), TunnelProtocol.Result.accepted(server.config().settings())));
        ServerSession session = new ServerSession(ctx.channel(), user, auth, server.config().settings().maxStreams());
        long rtt = System.nanoTime() - challengeSent; // the challenge's round trip: the tunnel's first score
        server.accept(ctx, session, rtt);
        ctx.pipeline().remove(this); // bytes already read after the Auth go on to the streams
    }

    private String checkServices(TunnelServerConfig.User user, TunnelProtocol.Auth auth) {
        if (auth.services() == null) {
            return null;
        }
        for (TunnelProtocol.Service s : auth.services()) {
            if (s.name() == null || s.name().isBlank()) {
                return "a service has no name";
            }
            if ("tcp".equals(s.type()) && s.remotePort() != null && !user.mayExpose(s.remotePort())) {
                return "service " + s.name() + ": port " + s.remotePort() + " is not allowed for id " + user.id();
            }
            for (String host : s.hosts() == null ? List.<String>of() : s.hosts()) {
                if (!user.mayServe(host)) {
                    return "service " + s.name() + ": host " + host + " is not allowed for id " + user.id();
                }
            }
        }
        return null;
    }

    /**
     * Refuses at once and closes: the reason goes back with the delay this address must now wait
     * (250 ms, doubling per failure in a row, at most 30 s), and a handshake it starts before then
     * is refused unchecked, so guessing costs the guesser the delay, not this server a held connection.
     */
    private void refuse(ChannelHandlerContext ctx, String reason) {
        answer(ctx, reason, server.guard().failed(ip));
    }

    private void answer(ChannelHandlerContext ctx, String reason, long retryAfterMillis) {
        state = State.DONE;
        stopClock();
        ctx.writeAndFlush(TunnelProtocol.encode(ctx.alloc(), TunnelProtocol.Result.refused(reason, retryAfterMillis)))
                .addListener(f -> ctx.close());
    }

    private void refuseNow(ChannelHandlerContext ctx, String reason) {
        state = State.DONE;
        log.debug("connection from {} closed: {}", ctx.channel().remoteAddress(), reason);
        ctx.close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        server.failed("malformed");
        log.debug("tunnel handshake from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
