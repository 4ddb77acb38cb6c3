package dev.titan.tunnel;

import static dev.titan.tunnel.MuxFrames.*;

import dev.titan.core.net.RelayOptions;
import dev.titan.core.net.Transport;
import dev.titan.tunnel.MuxFrames.ProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stream layer of a tunnel, after its handshake: many {@link MuxStream}s over one connection,
 * in the frames of {@link MuxFrames}. The tunnel server opens streams (one per user connection) and
 * the dialling client answers them.
 * Each side grants the other a window per stream and one for the whole tunnel (their first sizes
 * exchanged in the handshake; the tunnel's then sized by {@link TunnelWindow}, and a stream's grows
 * with it, so that one stream alone can fill a long path); a sender never has more in flight, so a
 * stalled stream holds at most its window in the receiver's memory. A frame that breaks these
 * rules is a {@link ProtocolException} that closes this tunnel only. The session also keeps the
 * tunnel alive: a PING every interval, whose round trip it reports, and the tunnel closes when none
 * is answered within the timeout (a peer that vanished without a FIN).
 */
final class MuxSession extends ByteToMessageDecoder {
    private static final Logger log = LoggerFactory.getLogger(MuxSession.class);

    /** Windows a side grants: per stream and for the whole tunnel (the most it grows to: {@link TunnelWindow}). */
    record Windows(int stream, int connection) {
        /** The tunnel's window at first: one stream's. */
        int initialConnection() {
            return Math.min(stream, connection);
        }
    }

    /** The session's configuration: the windows each side grants, frames, keep-alive and who opens. */
    record Setup(Windows ours, Windows peers, int maxFrame, int maxStreams, long pingIntervalNanos, long pingTimeoutNanos,
                 LongConsumer rtt, Runnable onGoAway, ChannelHandler acceptor, Set<Channel> owned) {
    }

    private final Setup setup;
    private ChannelHandlerContext ctx;
    private final IntObjectHashMap<MuxStream> streams = new IntObjectHashMap<>();
    private int nextStreamId = 1; // the server opens odd ids
    private int lastPeerStreamId;
    private int connectionSendWindow;
    private TunnelWindow window; // what the peer may send over all streams
    private final ArrayDeque<MuxStream> waiting = new ArrayDeque<>(); // bulk streams, in turn
    private final ArrayDeque<MuxStream> light = new ArrayDeque<>(); // streams in a short burst: before the bulk ones
    private final ArrayDeque<MuxStream> windowBlocked = new ArrayDeque<>(); // waiting for the tunnel's window, in order
    private final List<MuxStream> batch = new ArrayList<>();
    private boolean inRead;
    private boolean needFlush;
    private boolean drainScheduled;
    private boolean goAwaySent;
    private volatile boolean goAwayReceived;
    private boolean closeWhenIdle;
    private long lastAck = System.nanoTime();
    private ScheduledFuture<?> pinger;

    MuxSession(Setup setup) {
        this.setup = setup;
        this.connectionSendWindow = setup.peers().connection();
        setCumulator(COMPOSITE_CUMULATOR); // a frame spanning reads is not copied with every read behind it
    }

    Channel channel() {
        return ctx.channel();
    }

    /** Streams open now. On the tunnel's loop. */
    int activeStreams() {
        return streams.size();
    }

    /** The largest DATA payload this side sends. */
    int maxFrame() {
        return setup.maxFrame();
    }

    /** Whether the peer said GOAWAY: it takes no new stream. */
    boolean goAwayReceived() {
        return goAwayReceived;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        Channel ch = ctx.channel();
        window = new TunnelWindow(setup.ours().initialConnection(), setup.ours().connection(), () -> Transport.tcpRttNanos(ch), System.nanoTime());
        ctx.channel().config().setWriteBufferWaterMark(RelayOptions.WATER_MARK); // both ends alike, dialled or accepted
        ctx.channel().closeFuture().addListener(f -> {
            if (pinger != null) {
                pinger.cancel(false);
            }
        });
        if (setup.pingIntervalNanos() > 0) {
            pinger = ctx.executor().scheduleAtFixedRate(this::ping, setup.pingIntervalNanos(), setup.pingIntervalNanos(), TimeUnit.NANOSECONDS);
        }
    }

    // ---- opening

    /**
     * Opens a stream (the server's side) with {@code head}, with {@code handler} in its pipeline from
     * the start, reading off but for one read (the answer). On the tunnel's loop.
     */
    MuxStream open(MuxHead head, ChannelHandler handler) {
        int id = nextStreamId;
        nextStreamId += 2;
        MuxStream s = newStream(id);
        s.config().setAutoRead(false);
        s.pipeline().addLast("answer", handler);
        s.register();
        writeHead(OPEN, id, head);
        flushData();
        s.read();
        return s;
    }

    private MuxStream newStream(int id) {
        MuxStream s = new MuxStream(this, id, setup.peers().stream(), setup.ours().stream());
        streams.put(id, s);
        if (setup.owned() != null) {
            setup.owned().add(s);
        }
        return s;
    }

    // ---- reading frames

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        inRead = true;
        super.channelRead(ctx, msg);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (in.readableBytes() >= HEADER) {
            int at = in.readerIndex();
            int length = in.getUnsignedMedium(at);
            int type = in.getUnsignedByte(at + 3);
            int flags = in.getUnsignedByte(at + 4);
            int id = in.getInt(at + 5);
            if (type != DATA && length > MuxHead.MAX_BYTES + 1) {
                throw new ProtocolException("frame of type " + type + " with " + length + " bytes");
            }
            if (in.readableBytes() < HEADER + length) {
                return;
            }
            in.skipBytes(HEADER);
            switch (type) {
                case DATA -> data(id, flags, in, length);
                case OPEN -> opened(id, MuxHead.decode(in.readSlice(length), false));
                case REPLY -> {
                    MuxHead head = MuxHead.decode(in.readSlice(length), (flags & FIN) != 0);
                    MuxStream s = streams.get(id);
                    if (s != null) {
                        s.onHead(head);
                    }
                }
                case WINDOW -> window(id, fixed(in, length, 4).readInt());
                case RESET -> {
                    int code = fixed(in, length, 4).readInt();
                    MuxStream s = streams.get(id);
                    if (s != null) {
                        s.onReset(code);
                    }
                }
                case PING -> ping(flags, fixed(in, length, 8).readLong());
                case GOAWAY -> {
                    fixed(in, length, 4).skipBytes(4);
                    goAwayReceived = true;
                    setup.onGoAway().run();
                }
                default -> in.skipBytes(length); // a newer peer's frame: ignored
            }
        }
    }

    private void data(int id, int flags, ByteBuf in, int length) {
        if (!window.receive(length)) {
            throw new ProtocolException(length + " bytes beyond the tunnel's window of " + window.available());
        }
        MuxStream s = streams.get(id);
        if (s == null) { // closed here meanwhile: dropped, and the tunnel's window given back
            in.skipBytes(length);
            consumed(null, length, 0);
            return;
        }
        if (length > s.recvWindow) {
            throw new ProtocolException(length + " bytes beyond stream " + id + "'s window of " + s.recvWindow);
        }
        s.recvWindow -= length;
        if (length > 0) {
            s.onData(in.readRetainedSlice(length));
        }
        if ((flags & FIN) != 0) {
            s.onEnd();
        }
    }

    private void opened(int id, MuxHead head) {
        if (setup.acceptor() == null || (id & 1) == 0 || id <= lastPeerStreamId) {
            throw new ProtocolException("stream " + id + " opened out of order");
        }
        lastPeerStreamId = id;
        if (closeWhenIdle || streams.size() >= setup.maxStreams()) {
            writeControl(RESET, 0, id, REFUSED);
            return;
        }
        MuxStream s = newStream(id);
        s.pipeline().addLast(setup.acceptor());
        s.register();
        s.onHead(head);
    }

    private void window(int id, int increment) {
        if (increment <= 0) {
            throw new ProtocolException("window increment of " + increment);
        }
        if (id == 0) {
            connectionSendWindow += increment;
            for (MuxStream s; connectionSendWindow > 0 && (s = windowBlocked.poll()) != null; ) { // as many as the window lets go
                s.windowBlocked = false;
                resume(s);
            }
            return;
        }
        MuxStream s = streams.get(id);
        if (s != null) {
            s.sendWindow += increment;
            resume(s);
        }
    }

    private static void resume(MuxStream s) {
        if (s.isActive()) {
            s.unsafe().flush();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        super.channelReadComplete(ctx);
        inRead = false;
        while (!batch.isEmpty()) {
            MuxStream[] streams = batch.toArray(MuxStream[]::new);
            batch.clear();
            for (MuxStream s : streams) {
                s.readComplete();
            }
        }
        if (needFlush) {
            needFlush = false;
            ctx.flush();
        }
    }

    /** {@code s} delivered in this read of the tunnel: its read completes with the tunnel's. */
    void readBatch(MuxStream s) {
        if (!inRead) {
            s.readComplete();
            flushControl();
        } else if (!s.inReadBatch) {
            s.inReadBatch = true;
            batch.add(s);
        }
    }

    /**
     * {@code n} bytes of {@code s} (null: of a closed stream) were delivered, {@code parked} of them
     * already granted back to the tunnel ({@link #park}): granted back in halves of the windows.
     */
    void consumed(MuxStream s, int n, int parked) {
        if (s != null) {
            int grant = s.takeUnacked(Math.max(setup.ours().stream(), window.size())); // a stream may use what the tunnel allows
            if (grant > 0) {
                writeControl(WINDOW, 0, s.id, grant);
            }
        }
        window.unpark(parked);
        consumedByTunnel(n - parked);
    }

    private void consumedByTunnel(int n) {
        int grant;
        if (window.consumed(n) && (grant = window.grant(System.nanoTime())) > 0) {
            writeControl(WINDOW, 0, 0, grant);
        }
    }

    /** {@code n} bytes wait in {@code s}, whose reader paused: true when the tunnel's window has them back at once. */
    boolean park(int n) {
        if (!window.park(n)) {
            return false;
        }
        consumedByTunnel(n);
        return true;
    }

    // ---- writing frames

    /** How much of the tunnel's window {@code s} may use now; when none, it waits for the peer's WINDOW. */
    int sendWindowFor(MuxStream s) {
        if (connectionSendWindow <= 0 && !s.windowBlocked) {
            s.windowBlocked = true;
            windowBlocked.add(s);
        }
        return connectionSendWindow;
    }

    void sent(int n) {
        connectionSendWindow -= n;
    }

    /** Whether streams wait for their turn on the tunnel. */
    boolean othersWaiting() {
        return !waiting.isEmpty() || !light.isEmpty();
    }

    /**
     * {@code s} has bytes to send but the tunnel is busy (or its turn is over): it goes when the
     * others had theirs, unless it is in a short burst ({@link MuxStream#isLight}: an open's first
     * bytes, an interactive exchange), which goes before every bulk stream.
     */
    void waitTurn(MuxStream s) {
        if (!s.waitingTurn) {
            s.waitingTurn = true;
            (s.isLight() ? light : waiting).add(s);
        }
        if (ctx.channel().isWritable()) {
            scheduleDrain();
        }
    }

    private void scheduleDrain() {
        if (!drainScheduled) {
            drainScheduled = true;
            ctx.executor().execute(this::drain);
        }
    }

    private void drain() {
        drainScheduled = false;
        for (MuxStream s; ctx.channel().isWritable() && ((s = light.poll()) != null || (s = waiting.poll()) != null); ) {
            s.waitingTurn = false;
            resume(s);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        if (ctx.channel().isWritable()) {
            drain();
        }
        super.channelWritabilityChanged(ctx);
    }

    /** A DATA frame of {@code n} bytes of {@code data} (from its reader index; null: none) with FIN if {@code fin}. */
    void writeData(int id, ByteBuf data, int n, boolean fin) {
        MuxFrames.writeData(ctx, id, data, n, fin);
    }

    void writeHead(int type, int id, MuxHead head) {
        MuxFrames.writeHead(ctx, type, id, head);
    }

    private void writeControl(int type, int flags, int id, int value) {
        ByteBuf frame = ctx.alloc().ioBuffer(HEADER + 4);
        header(frame, 4, type, flags, id).writeInt(value);
        ctx.write(frame, ctx.voidPromise());
        needFlush = true;
        if (!inRead) {
            flushControl();
        }
    }

    /** Flushes control frames written outside a read of the tunnel (within one, its end does). */
    void flushControl() {
        if (needFlush && !inRead) {
            needFlush = false;
            ctx.flush();
        }
    }

    /** Flushes what a stream wrote (the flush handler before the session gathers them into few writes). */
    void flushData() {
        if (inRead) {
            needFlush = true;
        } else {
            needFlush = false;
            ctx.flush();
        }
    }

    /**
     * {@code s} closed: its queued bytes ({@code dropped}, {@code parked} of them granted back) are
     * given back, and the peer told unless it knows.
     */
    void closed(MuxStream s, int dropped, int parked, boolean tellPeer, boolean finSent) {
        if (streams.remove(s.id) == null) {
            return;
        }
        if (setup.owned() != null) {
            setup.owned().remove(s);
        }
        if (s.windowBlocked) {
            windowBlocked.remove(s);
        }
        if (ctx.channel().isActive()) {
            if (tellPeer) {
                writeControl(RESET, 0, s.id, finSent ? NO_ERROR : CANCEL);
            }
            if (dropped > 0) {
                consumed(null, dropped, parked);
            }
            if (closeWhenIdle && streams.isEmpty()) {
                ctx.flush();
                ctx.close();
            }
        }
    }

    // ---- keep-alive and the end

    private void ping() {
        long now = System.nanoTime();
        if (now - lastAck > setup.pingTimeoutNanos()) {
            log.info("tunnel {}: no PING answer for {} ms, closing", ctx.channel().remoteAddress(), (now - lastAck) / 1_000_000);
            ctx.close();
            return;
        }
        ByteBuf frame = ctx.alloc().ioBuffer(HEADER + 8);
        ctx.writeAndFlush(header(frame, 8, PING, 0, 0).writeLong(now), ctx.voidPromise());
    }

    private void ping(int flags, long payload) {
        if ((flags & ACK) != 0) {
            long now = System.nanoTime();
            lastAck = now;
            window.pingRtt(now - payload);
            setup.rtt().accept(now - payload);
            return;
        }
        ByteBuf frame = ctx.alloc().ioBuffer(HEADER + 8);
        ctx.write(header(frame, 8, PING, ACK, 0).writeLong(payload), ctx.voidPromise());
        needFlush = true;
        flushControl();
    }

    /** Tells the peer that this side opens or takes no new stream. On the tunnel's loop. */
    void goAway() {
        if (!goAwaySent && ctx.channel().isActive()) {
            goAwaySent = true;
            writeControl(GOAWAY, 0, 0, NO_ERROR);
            flushControl();
        }
    }

    /**
     * Ends the tunnel gracefully: GOAWAY, no new stream taken, and the close once the last stream
     * has ended, or after {@code timeoutMillis} (0: now). On the tunnel's loop.
     */
    void close(long timeoutMillis) {
        goAway();
        closeWhenIdle = true;
        if (streams.isEmpty() || timeoutMillis <= 0) {
            ctx.flush();
            ctx.close();
        } else {
            ctx.executor().schedule(() -> ctx.close(), timeoutMillis, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        for (MuxStream s : List.copyOf(streams.values())) {
            s.onTunnelGone();
        }
        waiting.clear();
        light.clear();
        windowBlocked.clear();
        super.channelInactive(ctx);
    }
}
