package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The order in which a busy tunnel takes its streams' bytes. */
class MuxSchedulingTest {

    /**
     * While the tunnel is not writable, a bulk stream and a stream with a few bytes both wait; when
     * it is writable again the short burst goes first, ahead of the bulk stream that was queued
     * before it, so a new stream's first bytes never wait for a bulk stream's turn.
     */
    @Test
    void aShortBurstGoesBeforeTheBulkStreamsWhenTheTunnelIsWritableAgain() {
        MuxSession.Windows ours = new MuxSession.Windows(16 << 20, 64 << 20);
        MuxSession.Windows peers = new MuxSession.Windows(MuxStream.LIGHT * 2, 64 << 20); // a stream's window: 128 KiB
        MuxSession session = new MuxSession(new MuxSession.Setup(ours, peers, 16 * 1024, 100, 0, 0, rtt -> { }, () -> { }, null, null));
        EmbeddedChannel tunnel = new EmbeddedChannel(session);
        try {
            MuxStream bulk = session.open(MuxHead.of(false).set(MuxHead.TARGET, "bulk"), new ChannelInboundHandlerAdapter());
            MuxStream light = session.open(MuxHead.of(false).set(MuxHead.TARGET, "light"), new ChannelInboundHandlerAdapter());
            bulk.writeAndFlush(filled(MuxStream.LIGHT * 4)); // half goes (its window), half waits: a long burst
            tunnel.unsafe().outboundBuffer().setUserDefinedWritability(1, false);
            ByteBuf window = MuxFrames.header(Unpooled.buffer(), 4, MuxFrames.WINDOW, 0, bulk.id).writeInt(1 << 20);
            tunnel.writeInbound(window); // the peer grants more while the tunnel is busy: the bulk stream waits its turn
            light.writeAndFlush(filled(100)); // and then a few bytes of another stream
            releaseAll(tunnel);
            assertThat(bulk.isLight()).isFalse();
            assertThat(light.isLight()).isTrue();

            tunnel.unsafe().outboundBuffer().setUserDefinedWritability(1, true);
            tunnel.runPendingTasks();
            List<Integer> order = new ArrayList<>();
            for (ByteBuf frame; (frame = tunnel.readOutbound()) != null; frame.release()) {
                boolean header = frame.readableBytes() == MuxFrames.HEADER || frame.readableBytes() == MuxFrames.HEADER + frame.getUnsignedMedium(0);
                if (header && frame.getUnsignedByte(3) == MuxFrames.DATA) {
                    int id = frame.getInt(5);
                    if (order.isEmpty() || order.get(order.size() - 1) != id) {
                        order.add(id);
                    }
                }
            }
            assertThat(order).as("streams in the order their DATA left").containsExactly(light.id, bulk.id);
        } finally {
            tunnel.finishAndReleaseAll();
        }
    }

    /** Payload bytes that no frame header can be mistaken for. */
    private static ByteBuf filled(int n) {
        byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte) 0x7f);
        return Unpooled.wrappedBuffer(b);
    }

    private static void releaseAll(EmbeddedChannel ch) {
        for (Object m; (m = ch.readOutbound()) != null; ) {
            io.netty.util.ReferenceCountUtil.release(m);
        }
    }
}
