package dev.titan.core.net;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The relay between two embedded channels: bytes each way, counted; a side that cannot take more
 * stops the other from being read until it drains; a FIN becomes the end of the other side's
 * output (or closes a side that cannot half-close); what an EarlyInput held goes first; a
 * connector's accounting is counted beside the listener's.
 */
class RelayTest {
    private final AtomicLong fromA = new AtomicLong();
    private final AtomicLong fromB = new AtomicLong();
    private final AtomicInteger closed = new AtomicInteger();

    private final Relay.Stats stats = new Relay.Stats() {
        @Override
        public void bytesFromA(long n) {
            fromA.addAndGet(n);
        }

        @Override
        public void bytesFromB(long n) {
            fromB.addAndGet(n);
        }

        @Override
        public void closed(Relay relay) {
            closed.incrementAndGet();
        }
    };

    private static EmbeddedChannel stream() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.attr(Relay.END_OF_OUTPUT_SUPPORTED).set(true); // as a tunnel stream: ends its output without closing
        ch.config().setAutoRead(false);
        return ch;
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    private static String out(EmbeddedChannel ch) {
        StringBuilder b = new StringBuilder();
        for (Object o; (o = ch.readOutbound()) != null; ) {
            b.append(o instanceof ByteBuf buf ? buf.toString(StandardCharsets.US_ASCII) : o == Relay.END_OF_OUTPUT ? "<END>" : "?");
            ReferenceCountUtil.release(o);
        }
        return b.toString();
    }

    @Test
    void copiesBothWaysAndCounts() {
        EmbeddedChannel a = stream();
        EmbeddedChannel b = stream();
        Relay.start(a, b, Duration.ZERO, stats);
        a.writeInbound(text("request"));
        b.writeInbound(text("answer!!"));
        assertThat(out(b)).isEqualTo("request");
        assertThat(out(a)).isEqualTo("answer!!");
        assertThat(fromA.get()).isEqualTo(7);
        assertThat(fromB.get()).isEqualTo(8);
        a.close();
        b.runPendingTasks();
        assertThat(b.isOpen()).isFalse();
        assertThat(closed.get()).as("reported once, when both are closed").isEqualTo(1);
    }

    @Test
    void aHalfCloseEndsTheOtherSidesOutputAndTheRestStillFlows() {
        EmbeddedChannel a = stream();
        EmbeddedChannel b = stream();
        Relay.start(a, b, Duration.ZERO, stats);
        a.writeInbound(text("last words"));
        a.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertThat(out(b)).isEqualTo("last words<END>");
        assertThat(b.isOpen()).as("still open for the answer").isTrue();
        b.writeInbound(text("the answer"));
        assertThat(out(a)).isEqualTo("the answer");
        b.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        a.runPendingTasks();
        b.runPendingTasks();
        assertThat(a.isOpen()).as("both ends done: closed").isFalse();
        assertThat(b.isOpen()).isFalse();
    }

    @Test
    void aDetachedRelayLeavesAOpenAndPassesNothingMoreOfBToIt() {
        EmbeddedChannel a = stream();
        EmbeddedChannel b = stream();
        AtomicInteger closesAsked = new AtomicInteger();
        b.pipeline().addFirst(new ChannelOutboundHandlerAdapter() {
            @Override
            public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
                closesAsked.incrementAndGet(); // held: a stream's close happens later, on its own loop
            }
        });
        Relay relay = Relay.start(a, b, Duration.ZERO, stats);
        b.writeInbound(text("answer"));
        assertThat(out(a)).isEqualTo("answer");
        relay.detach();
        assertThat(closesAsked.get()).as("b is closed").isEqualTo(1);
        assertThat(a.pipeline().get("relay")).as("a's side stepped out").isNull();
        b.writeInbound(text("late"));
        b.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        a.runPendingTasks();
        assertThat(out(a)).as("nothing of b reaches a after the detach, not even b's end").isEmpty();
        assertThat(a.isOpen()).isTrue();
    }

    @Test
    void aSideThatCannotHalfCloseIsClosedAfterItsLastBytes() {
        EmbeddedChannel a = stream();
        EmbeddedChannel b = new EmbeddedChannel(); // neither a socket nor a stream: cannot end its output alone
        b.config().setAutoRead(false);
        Relay.start(a, b, Duration.ZERO, stats);
        a.writeInbound(text("bye"));
        a.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        b.runPendingTasks();
        assertThat(out(b)).isEqualTo("bye");
        assertThat(b.isOpen()).isFalse();
    }

    @Test
    void aFullSidePausesReadingTheOtherUntilItDrains() {
        EmbeddedChannel a = stream();
        EmbeddedChannel b = stream();
        Relay.start(a, b, Duration.ZERO, stats);
        assertThat(a.config().isAutoRead()).isTrue();
        b.unsafe().outboundBuffer().setUserDefinedWritability(1, false); // b's peer stopped reading
        a.writeInbound(text("more than b can take"));
        assertThat(a.config().isAutoRead()).as("a is no longer read").isFalse();
        b.unsafe().outboundBuffer().setUserDefinedWritability(1, true); // drained
        b.runPendingTasks();
        a.runPendingTasks();
        assertThat(a.config().isAutoRead()).as("a is read again").isTrue();
        assertThat(out(b)).isEqualTo("more than b can take");
        a.finishAndReleaseAll();
        b.finishAndReleaseAll();
    }

    @Test
    void whatArrivedEarlyGoesFirstInOrderWithItsEnd() {
        EmbeddedChannel a = stream();
        a.pipeline().addLast(EarlyInput.NAME, new EarlyInput());
        a.writeInbound(text("early "), text("bytes"));
        a.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        EmbeddedChannel b = stream();
        Relay.start(a, b, Duration.ZERO, stats);
        a.runPendingTasks();
        assertThat(out(b)).isEqualTo("early bytes<END>");
        assertThat(a.pipeline().get(EarlyInput.NAME)).as("stepped aside").isNull();
        a.finishAndReleaseAll();
        b.finishAndReleaseAll();
    }

    @Test
    void aConnectorsAccountingIsCountedBesideTheListeners() {
        AtomicLong owner = new AtomicLong();
        EmbeddedChannel a = stream();
        EmbeddedChannel b = stream();
        Relay.account(b, new Relay.Accounting(new Relay.Stats() {
            @Override
            public void bytesFromA(long n) {
                owner.addAndGet(n);
            }

            @Override
            public void bytesFromB(long n) {
                owner.addAndGet(1000 * n);
            }

            @Override
            public void closed(Relay relay) {
            }
        }, null, null));
        Relay.start(a, b, Duration.ZERO, stats);
        a.writeInbound(text("abc"));
        b.writeInbound(text("de"));
        assertThat(fromA.get()).isEqualTo(3);
        assertThat(owner.get()).isEqualTo(2003);
        out(a);
        out(b);
        a.finishAndReleaseAll();
        b.finishAndReleaseAll();
    }
}
