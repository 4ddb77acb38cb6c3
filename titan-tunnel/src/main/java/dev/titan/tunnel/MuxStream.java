package dev.titan.tunnel;

import dev.titan.core.net.Relay;
import dev.titan.core.net.RelayOptions;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.AbstractChannel;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelId;
import io.netty.channel.ChannelMetadata;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One stream of a tunnel ({@link MuxSession}) as a channel, so that a relay, the PROXY protocol and
 * the stream's role handlers treat it as they treat a socket. Reads deliver the peer's
 * {@link MuxHead} and bytes, and the peer's end of output as a {@link ChannelInputShutdownEvent};
 * writes take bytes, a {@link MuxHead} (an answer) and {@link Relay#END_OF_OUTPUT} (the end of this
 * side's output, as a FIN would be).
 *
 * <p>Flow control: bytes go out while the peer's window for the stream and for the tunnel allow
 * and the tunnel's connection is writable; what cannot go waits in the stream, whose writability
 * then tells its relay to stop reading. Bytes the peer sends are granted back to the stream once
 * delivered to the pipeline, so a stream whose reading is paused holds at most its window; while
 * they wait they are granted back to the tunnel at once ({@link TunnelWindow}: up to a limit over all
 * paused streams), so that a paused stream does not hold the others. A tunnel that is not
 * writable takes the streams in turn, at most {@link #QUANTUM} bytes each, while stream opens and
 * control frames go ahead of them, and so do streams in a short burst ({@link #isLight}): a new
 * stream's first bytes wait for no bulk stream's turn, only for what the tunnel's own write buffer
 * holds (up to its high water mark).
 *
 * <p>Close is graceful: the output ends first (behind what is still queued), and if the peer is
 * still sending it is told that nothing more will be read (RESET with NO_ERROR), which it takes as
 * a complete output, not an abort. A stream closed before its output could end is reset (CANCEL).
 */
final class MuxStream extends AbstractChannel {
    /**
     * Bytes a stream may send per turn while others wait for the tunnel. Long turns keep each bulk
     * stream's bytes together, so the far end writes them to their socket in few large pieces:
     * with four bulk streams through the overlay, 1 MiB turns carried 14% more than 256 KiB turns.
     */
    static final int QUANTUM = 1024 * 1024;
    /** A stream that has sent less than this since it last had nothing queued is in a short burst: it goes before bulk streams. */
    static final int LIGHT = 64 * 1024;

    private static final ChannelMetadata METADATA = new ChannelMetadata(false, 16);
    private static final Object END_MARK = ChannelInputShutdownEvent.INSTANCE;

    final int id;
    final MuxSession session;
    private final ChannelConfig config = new DefaultChannelConfig(this);
    private boolean closed;
    // outbound
    int sendWindow;
    boolean waitingTurn; // in the session's queue of streams waiting for the tunnel
    boolean windowBlocked; // in the session's queue of streams waiting for the tunnel's window
    private int burst; // bytes sent since the stream last had nothing queued
    private boolean outputEnded; // END_OF_OUTPUT, or a head that ends the output, written (maybe still queued)
    private boolean finSent;
    private boolean peerReadsNoMore; // reset by the peer with NO_ERROR: what we send is dropped
    private boolean closing;
    // inbound
    int recvWindow; // what the peer may still send on this stream
    private int recvSize; // the window granted the peer for this stream: recvWindow plus what is in flight or waits here
    private int unacked; // delivered bytes not yet granted back
    private final ArrayDeque<Object> inbound = new ArrayDeque<>(4);
    private int parked; // the first bytes of inbound, granted back to the tunnel while they wait
    private boolean parkingFull; // the tunnel granted no more back: what follows in inbound holds its window
    private boolean readRequested;
    private boolean delivering;
    private boolean readSinceComplete; // delivered since the last channelReadComplete
    boolean inReadBatch;
    private boolean inputEnded; // the peer's FIN arrived (maybe still queued)
    private boolean resetByPeer;
    private boolean tunnelGone;
    private boolean drainThenClose; // the peer sends no more (reset with NO_ERROR, or the tunnel ended): close once delivered

    MuxStream(MuxSession session, int id, int sendWindow, int recvWindow) {
        super(session.channel(), new StreamId(session.channel().id(), id));
        this.session = session;
        this.id = id;
        this.sendWindow = sendWindow;
        this.recvWindow = recvWindow;
        this.recvSize = recvWindow;
        attr(Relay.END_OF_OUTPUT_SUPPORTED).set(Boolean.TRUE);
        config.setWriteBufferWaterMark(RelayOptions.WATER_MARK); // as much in flight towards the tunnel as towards a socket
    }

    /** Registers the stream on its tunnel's loop (it must be called there). */
    void register() {
        session.channel().eventLoop().register(this);
    }

    // ---- inbound, from the session (on the tunnel's loop)

    void onHead(MuxHead head) {
        inbound(head);
        if (head.isEnd()) {
            onEnd();
        }
    }

    void onData(ByteBuf data) {
        inbound(data);
    }

    void onEnd() {
        if (!inputEnded) {
            inputEnded = true;
            inbound(END_MARK);
        }
    }

    /** The peer reset the stream: NO_ERROR reads no more of ours; anything else aborts it. */
    void onReset(int code) {
        resetByPeer = true;
        outputEnded = true;
        if (code == MuxFrames.NO_ERROR) { // what it sent before is still delivered, then the stream closes
            peerReadsNoMore = true;
            closeWhenDrained();
        } else {
            unsafe().close(voidPromise());
        }
    }

    /** The tunnel closed: what arrived before is still delivered, then the stream closes. */
    void onTunnelGone() {
        tunnelGone = true;
        if (parent().eventLoop().isShuttingDown()) { // nothing will read what is queued
            unsafe().close(voidPromise());
        } else {
            closeWhenDrained();
        }
    }

    private void closeWhenDrained() {
        outputEnded = true;
        drainThenClose = true;
        closeIfDrained();
    }

    private void inbound(Object msg) {
        if (closed) {
            release(msg);
            return;
        }
        if (readRequested && inbound.isEmpty() && !delivering) {
            deliver(msg);
            session.readBatch(this);
            return;
        }
        inbound.add(msg);
        if (msg instanceof ByteBuf buf && !parkingFull) { // the reader paused: the bytes wait without holding the tunnel
            if (session.park(buf.readableBytes())) {
                parked += buf.readableBytes();
            } else {
                parkingFull = true;
            }
        }
    }

    private void deliver(Object msg) {
        if (!config.isAutoRead()) {
            readRequested = false;
        }
        if (msg == END_MARK) {
            completeRead(); // as a socket's: what was read completes before the input ends
            pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
            return;
        }
        readSinceComplete = true;
        if (msg instanceof ByteBuf buf) {
            int n = buf.readableBytes();
            int wasParked = Math.min(n, parked);
            parked -= wasParked;
            if (inbound.isEmpty()) {
                parkingFull = false;
            }
            unacked += n;
            session.consumed(this, n, wasParked);
        }
        pipeline().fireChannelRead(msg);
    }

    /**
     * What to grant the peer for this stream now (0: nothing yet): what was delivered, once it
     * reaches half the window, and whatever the window grows by to reach {@code size} (the window
     * never shrinks).
     */
    int takeUnacked(int size) {
        if (unacked < recvSize / 2 && size <= recvSize) {
            return 0;
        }
        int n = unacked;
        unacked = 0;
        if (size > recvSize) {
            n += size - recvSize;
            recvSize = size;
        }
        recvWindow += n;
        return n;
    }

    /** The window granted the peer for this stream. */
    int recvSize() {
        return recvSize;
    }

    /** The end of the tunnel read that delivered to this stream. */
    void readComplete() {
        inReadBatch = false;
        completeRead();
        closeIfDrained();
    }

    private void completeRead() {
        if (readSinceComplete && isActive()) {
            readSinceComplete = false;
            pipeline().fireChannelReadComplete();
        }
    }

    private void closeIfDrained() {
        if (drainThenClose && inbound.isEmpty() && !inReadBatch && isOpen()) { // after the read's end, where its reader flushes
            unsafe().close(voidPromise());
        }
    }

    @Override
    protected void doBeginRead() {
        readRequested = true;
        if (delivering || inbound.isEmpty()) {
            return;
        }
        delivering = true;
        try {
            while (readRequested && !inbound.isEmpty() && isOpen()) {
                deliver(inbound.poll());
            }
        } finally {
            delivering = false;
        }
        session.flushControl();
        completeRead();
        closeIfDrained();
    }

    // ---- outbound

    @Override
    protected Object filterOutboundMessage(Object msg) {
        if (msg instanceof ByteBuf) {
            return msg;
        }
        if (msg == Relay.END_OF_OUTPUT || msg instanceof MuxHead) {
            if (msg == Relay.END_OF_OUTPUT || ((MuxHead) msg).isEnd()) {
                outputEnded = true; // noted as the write enters the stream, before it goes out
            }
            return msg;
        }
        throw new UnsupportedOperationException("a tunnel stream takes bytes, a head or END_OF_OUTPUT, not " + msg.getClass().getSimpleName());
    }

    @Override
    protected void doWrite(ChannelOutboundBuffer in) {
        int budget = QUANTUM;
        for (Object msg; (msg = in.current()) != null; ) {
            if (peerReadsNoMore || finSent) {
                in.remove(); // the peer reads no more: dropped as sent
                continue;
            }
            if (msg instanceof ByteBuf buf) {
                int len = buf.readableBytes();
                if (len == 0) {
                    in.remove();
                    continue;
                }
                if (budget == 0 && !session.othersWaiting()) {
                    budget = QUANTUM; // alone: no turn to give
                }
                if (!session.channel().isWritable() || budget == 0) {
                    session.waitTurn(this);
                    break;
                }
                int n = Math.min(Math.min(Math.min(len, budget), session.maxFrame()), Math.min(sendWindow, session.sendWindowFor(this)));
                if (n <= 0) {
                    break; // a WINDOW from the peer resumes it
                }
                session.writeData(id, buf, n, false);
                burst += n;
                sendWindow -= n;
                session.sent(n);
                budget -= n;
                in.removeBytes(n);
            } else if (msg instanceof MuxHead head) {
                session.writeHead(MuxFrames.REPLY, id, head);
                finSent = head.isEnd();
                in.remove();
            } else { // END_OF_OUTPUT
                session.writeData(id, null, 0, true);
                finSent = true;
                in.remove();
            }
        }
        if (in.isEmpty()) {
            burst = 0;
        }
        session.flushData();
    }

    /** Whether the stream is in a short burst (less than {@link #LIGHT} sent since it last had nothing queued). */
    boolean isLight() {
        return burst < LIGHT;
    }

    // ---- lifecycle

    @Override
    protected AbstractUnsafe newUnsafe() {
        return new StreamUnsafe();
    }

    private final class StreamUnsafe extends AbstractUnsafe {
        @Override
        public void connect(SocketAddress remote, SocketAddress local, ChannelPromise promise) {
            promise.setFailure(new UnsupportedOperationException("a tunnel stream is opened by its session"));
        }

        /**
         * Closes gracefully: ends the output behind what is queued, then closes (see the class
         * comment); a second close, or one of a stream that cannot send, closes at once.
         */
        @Override
        public void close(ChannelPromise promise) {
            if (closing || closed || tunnelGone || resetByPeer || !session.channel().isActive()) {
                super.close(promise);
                return;
            }
            closing = true;
            if (finSent) {
                super.close(promise);
                return;
            }
            if (!outputEnded) {
                MuxStream.this.write(Relay.END_OF_OUTPUT, MuxStream.this.voidPromise());
            }
            ChannelFuture end = MuxStream.this.writeAndFlush(Unpooled.EMPTY_BUFFER); // done once the end of output before it is sent
            end.addListener(f -> super.close(promise));
        }
    }

    @Override
    protected void doClose() {
        if (closed) {
            return;
        }
        closed = true;
        int dropped = 0;
        for (Object o; (o = inbound.poll()) != null; ) {
            if (o instanceof ByteBuf b) {
                dropped += b.readableBytes();
            }
            release(o);
        }
        session.closed(this, dropped, parked, !resetByPeer && !tunnelGone && !(finSent && inputEnded), finSent);
    }

    private static void release(Object o) {
        if (o != END_MARK) {
            ReferenceCountUtil.release(o);
        }
    }

    @Override
    protected boolean isCompatible(EventLoop loop) {
        return true;
    }

    @Override
    protected SocketAddress localAddress0() {
        return parent().localAddress();
    }

    @Override
    protected SocketAddress remoteAddress0() {
        return parent().remoteAddress();
    }

    @Override
    protected void doBind(SocketAddress localAddress) {
        throw new UnsupportedOperationException("a tunnel stream cannot be bound");
    }

    @Override
    protected void doDisconnect() {
        doClose();
    }

    @Override
    public ChannelConfig config() {
        return config;
    }

    @Override
    public boolean isOpen() {
        return !closed;
    }

    @Override
    public boolean isActive() {
        return !closed;
    }

    @Override
    public ChannelMetadata metadata() {
        return METADATA;
    }

    @Override
    public String toString() {
        return "stream " + id + " of " + parent();
    }

    /**
     * Closes {@code streams} now, which releases what is queued in them; their relays then close
     * the connections on the other side. Returns when they are closed (or after a few seconds)
     * unless called on an event loop.
     */
    static void closeAll(Collection<Channel> streams) {
        List<ChannelFuture> closing = new ArrayList<>();
        for (Channel stream : List.copyOf(streams)) {
            stream.eventLoop().execute(() -> stream.unsafe().close(stream.voidPromise()));
            closing.add(stream.closeFuture());
        }
        for (ChannelFuture f : closing) {
            if (!f.channel().eventLoop().inEventLoop()) {
                f.awaitUninterruptibly(5, TimeUnit.SECONDS);
            }
        }
    }

    /** A stream's id: its tunnel's and its number. */
    private record StreamId(ChannelId tunnel, int stream) implements ChannelId {
        @Override
        public String asShortText() {
            return tunnel.asShortText() + "/" + stream;
        }

        @Override
        public String asLongText() {
            return tunnel.asLongText() + "/" + stream;
        }

        @Override
        public int compareTo(ChannelId o) {
            return asLongText().compareTo(o.asLongText());
        }
    }
}
