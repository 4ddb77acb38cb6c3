package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

/**
 * What the receiving side of a tunnel lets its peer send on one stream: the stream's own window at
 * first, and as much as the tunnel's window once that has grown, so that one stream alone can fill
 * a long path (a window of 1 MiB carries at most 1 MiB per round trip: 210 Mbit/s at 40 ms).
 */
class StreamWindowTest {
    private static final int STREAM = 64 << 10;
    private static final int TUNNEL = 1 << 20;
    private static final int FRAME = 16 << 10;

    @Test
    void aStreamsWindowFollowsTheTunnelsOnceThatHasGrown() throws Exception {
        EmbeddedChannel tunnel = new EmbeddedChannel(); // no kernel round trip: the tunnel's window grows to the most after its first period
        try {
            MuxStream s = open(tunnel, new MuxSession.Windows(STREAM, TUNNEL));
            assertThat(s.recvSize()).as("the stream's own window at first").isEqualTo(STREAM);
            assertThat(s.recvWindow).isEqualTo(STREAM);

            Thread.sleep(TunnelWindow.MIN_PERIOD_NANOS / 1_000_000 + 5);
            send(tunnel, s.id, STREAM); // the tunnel's window ends its first period and grows
            send(tunnel, s.id, FRAME); // the stream's next grant takes it up
            assertThat(s.recvSize()).isEqualTo(TUNNEL);
            assertThat(granted(tunnel, s.id)).as("what the window grew by, and what was delivered (but for less than half the window)")
                    .isBetween((long) TUNNEL - STREAM, (long) TUNNEL - STREAM + STREAM + FRAME);
            assertThat(s.recvWindow).as("what the peer may now send on this stream without waiting: far beyond the stream's own window")
                    .isGreaterThanOrEqualTo(TUNNEL / 2);

            send(tunnel, s.id, s.recvWindow); // within the rules: the tunnel stays up
            assertThat(tunnel.isOpen()).isTrue();
        } finally {
            tunnel.finishAndReleaseAll();
        }
    }

    /** Where the tunnel's window cannot grow beyond a stream's, the stream's stays its own: granted back as delivered. */
    @Test
    void aStreamsWindowStaysItsOwnWhileTheTunnelsDoesNotGrowBeyondIt() throws Exception {
        EmbeddedChannel tunnel = new EmbeddedChannel();
        try {
            MuxStream s = open(tunnel, new MuxSession.Windows(STREAM, STREAM));
            Thread.sleep(TunnelWindow.MIN_PERIOD_NANOS / 1_000_000 + 5);
            send(tunnel, s.id, 4 * STREAM);
            assertThat(granted(tunnel, s.id)).isEqualTo(4 * STREAM);
            assertThat(s.recvSize()).isEqualTo(STREAM);
            assertThat(s.recvWindow).isEqualTo(STREAM);
        } finally {
            tunnel.finishAndReleaseAll();
        }
    }

    /** A session on {@code tunnel} with {@code windows} on both sides, and a stream it opened whose reader keeps up. */
    private static MuxStream open(EmbeddedChannel tunnel, MuxSession.Windows windows) {
        MuxSession session = new MuxSession(new MuxSession.Setup(windows, windows, FRAME, 100, 0, 0, rtt -> { }, () -> { }, null, null));
        tunnel.pipeline().addLast(session);
        MuxStream s = session.open(MuxHead.of(false).set(MuxHead.TARGET, "bulk"), new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }
        });
        s.config().setAutoRead(true);
        granted(tunnel, s.id); // the OPEN
        return s;
    }

    /** The peer sends {@code n} bytes on stream {@code id}, in frames of the largest size. */
    private static void send(EmbeddedChannel tunnel, int id, int n) {
        for (int sent = 0; sent < n; sent += FRAME) {
            int len = Math.min(FRAME, n - sent);
            ByteBuf frame = MuxFrames.header(Unpooled.buffer(MuxFrames.HEADER + len), len, MuxFrames.DATA, 0, id).writeZero(len);
            tunnel.writeInbound(frame);
        }
    }

    /** The WINDOW increments granted for stream {@code id} since the last call; other frames are dropped. */
    private static long granted(EmbeddedChannel tunnel, int id) {
        long sum = 0;
        for (Object m; (m = tunnel.readOutbound()) != null; ReferenceCountUtil.release(m)) {
            ByteBuf f = (ByteBuf) m;
            if (f.readableBytes() == MuxFrames.HEADER + 4 && f.getUnsignedByte(3) == MuxFrames.WINDOW && f.getInt(5) == id) {
                sum += f.getInt(MuxFrames.HEADER);
            }
        }
        return sum;
    }
}
