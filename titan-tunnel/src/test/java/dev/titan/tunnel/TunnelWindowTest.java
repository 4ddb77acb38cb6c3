package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import org.junit.jupiter.api.Test;

/**
 * The tunnel's receive window against a simulated path: a sender that always has bytes, a round
 * trip, and a rate the path (or the receiver's reader) allows at most. Bytes and grants each take
 * half the round trip.
 */
class TunnelWindowTest {
    private static final int MIB = 1 << 20;

    /** On a long path the window is what limits: each doubling carries about twice as much, so it grows to the most allowed. */
    @Test
    void growsToTheMostAllowedOnALongPath() {
        long rtt = 40_000_000;
        Path p = new Path(rtt, 1.0); // 1 GB/s: 40 MB in flight fill the path
        TunnelWindow w = new TunnelWindow(MIB, 16 * MIB, () -> rtt, 0);
        p.run(w, 0, 3_000_000_000L);
        assertThat(w.size()).isEqualTo(16 * MIB);
        assertThat(p.bytesPerNano(w, 3_000_000_000L, 1_000_000_000L)).as("ten times what 1 MiB per 40 ms carry").isGreaterThan(0.25);
    }

    /**
     * Where the rate is capped by something else (a busy reader, whose delays also stretch the round
     * trip the kernel measures), a doubled window carries no more: it goes back, tries again a second
     * later, and goes back again, and the credit of each doubling is taken back from later grants.
     */
    @Test
    void goesBackWhenADoublingCarriesNoMore() {
        Path p = new Path(1_000_000, 0.4); // 1 MiB per 1 ms would carry more: the window is not what limits
        TunnelWindow w = new TunnelWindow(MIB, 16 * MIB, () -> 3_000_000, 0); // but looks as if it might
        p.run(w, 0, 3_500_000_000L);
        assertThat(p.tries).as("doublings tried, one a second").isBetween(3, 4);
        assertThat(w.size()).isEqualTo(MIB);
        p.run(w, 3_500_000_000L, 200_000_000L);
        assertThat(w.available()).as("the credit of the doubled window was taken back from later grants").isLessThanOrEqualTo(MIB);
        assertThat(p.bytesPerNano(w, 3_700_000_000L, 500_000_000L)).isGreaterThan(0.38);
    }

    /**
     * Behind a proxy that ends TCP, the kernel sees only the first leg's round trip; the tunnel's
     * PINGs see the whole path, and the window grows to it as on any long path.
     */
    @Test
    void aPingsRoundTripCountsWhereTheKernelSeesOnlyPartOfThePath() {
        long rtt = 40_000_000;
        Path p = new Path(rtt, 1.0);
        TunnelWindow w = new TunnelWindow(MIB, 16 * MIB, () -> 50_000, 0); // the leg to the proxy
        p.run(w, 0, 1_000_000_000L);
        assertThat(w.size()).as("by the kernel's round trip alone the window never looks small").isEqualTo(MIB);
        w.pingRtt(rtt);
        p.run(w, 1_000_000_000L, 3_000_000_000L);
        assertThat(w.size()).isEqualTo(16 * MIB);
    }

    /** Where the round trip is short, the rate never makes the window look small: it stays one stream's. */
    @Test
    void staysAtItsFirstSizeWhenTheRoundTripIsShort() {
        long rtt = 50_000;
        Path p = new Path(rtt, 1.5);
        TunnelWindow w = new TunnelWindow(MIB, 16 * MIB, () -> rtt, 0);
        p.run(w, 0, 1_000_000_000L);
        assertThat(p.tries).isZero();
        assertThat(w.size()).isEqualTo(MIB);
    }

    /** Without a round trip to go by (NIO), the window is the most allowed after its first period. */
    @Test
    void withoutARoundTripItTakesTheMostAllowed() {
        TunnelWindow w = new TunnelWindow(MIB, 16 * MIB, () -> -1, 0);
        assertThat(w.receive(MIB)).isTrue();
        assertThat(w.receive(1)).as("beyond the first window").isFalse();
        assertThat(w.consumed(MIB)).isTrue();
        assertThat(w.grant(TunnelWindow.MIN_PERIOD_NANOS)).isEqualTo(16 * MIB);
        assertThat(w.available()).isEqualTo(16 * MIB);
    }

    /** Bytes waiting in stalled streams are granted back, up to the most the window allows over all of them. */
    @Test
    void stalledStreamsAreGrantedBackUpToTheMostAllowed() {
        TunnelWindow w = new TunnelWindow(MIB, 4 * MIB, () -> 50_000, 0);
        for (int i = 0; i < 4; i++) {
            assertThat(w.park(MIB)).isTrue();
        }
        assertThat(w.park(1)).as("stalled streams hold the most allowed").isFalse();
        w.unpark(MIB);
        assertThat(w.park(MIB)).isTrue();
    }

    /** The path: in flight bytes (arriving at the receiver) and grants (arriving at the sender). */
    private static final class Path {
        private final long rtt;
        private final double cap; // bytes per nanosecond
        private final ArrayDeque<long[]> bytes = new ArrayDeque<>(); // {arrival, n}
        private final ArrayDeque<long[]> grants = new ArrayDeque<>();
        private long credit = -1;
        private long delivered;
        private int lastSize;
        int tries;

        Path(long rtt, double cap) {
            this.rtt = rtt;
            this.cap = cap;
        }

        void run(TunnelWindow w, long from, long duration) {
            if (credit < 0) {
                credit = w.available();
                lastSize = w.size();
            }
            long step = Math.max(10_000, rtt / 8);
            for (long now = from; now < from + duration; now += step) {
                for (long[] g; (g = grants.peek()) != null && g[0] <= now; grants.poll()) {
                    credit += g[1];
                }
                long n = Math.min(credit, (long) (cap * step));
                if (n > 0) {
                    bytes.add(new long[] {now + rtt / 2, n});
                    credit -= n;
                }
                for (long[] b; (b = bytes.peek()) != null && b[0] <= now; bytes.poll()) {
                    assertThat(w.receive((int) b[1])).as("the sender kept within its credit").isTrue();
                    delivered += b[1];
                    if (w.consumed((int) b[1])) {
                        int g = w.grant(now);
                        if (g > 0) {
                            grants.add(new long[] {now + rtt / 2, g});
                        }
                    }
                }
                if (w.size() > lastSize) {
                    tries++;
                }
                lastSize = w.size();
            }
        }

        double bytesPerNano(TunnelWindow w, long from, long duration) {
            long before = delivered;
            run(w, from, duration);
            return (delivered - before) / (double) duration;
        }
    }
}
