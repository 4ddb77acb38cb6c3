package dev.titan.tunnel;

import java.util.function.LongSupplier;

/**
 * What one side of a tunnel lets its peer send over all streams together: the receive half of the
 * tunnel's flow control ({@link MuxSession}).
 *
 * <p><b>As large as it helps.</b> The window starts at {@code initial} (one stream's window, so
 * that a lone stream is never held back by the tunnel's) and grows, up to {@code max}, by trial.
 * After three measuring periods at one size, when the bytes of the last one could have been held
 * back by the window (at that rate more than half of it crosses in one round trip), it doubles for
 * one period and keeps the larger size only if that period carried at least {@value #GAIN_PERCENT}%
 * more than the best period at the smaller size (and then tries the next doubling at once);
 * otherwise it goes back, and tries again {@value #RETRY_MILLIS} ms later. On a long path, where the
 * window is what limits, each doubling nearly doubles the rate, so it grows within a few periods, as
 * TCP's receive buffer does. Where the two ends are close and one of them is busy, a larger window
 * brings no more bytes, only longer queues in the socket buffers between them, which cost cache:
 * with four bulk streams through the overlay on one machine, 4 MiB in flight carried 20% less than
 * 1 MiB. The round trip is the kernel's for the tunnel's TCP connection, or the shortest a PING of
 * the tunnel took when that is longer (a proxy that ends TCP between the two ends hides the rest of
 * the path from the kernel); one too long only makes it try more often, since a doubling that does
 * not pay goes back. A period lasts at least four round trips and {@value #MIN_PERIOD_NANOS} ns.
 * Where the transport does not tell the kernel's round trip (NIO), the window goes to {@code max}
 * after the first period. A stream's window grows with the tunnel's ({@link MuxSession}): with its
 * own 1 MiB alone, one stream would carry at most 1 MiB per round trip however large this grew.
 *
 * <p><b>Stalled streams do not hold the tunnel.</b> Bytes that wait in a stream whose reader has
 * paused (its user not reading) are granted back at once, up to {@code max} over all such streams,
 * so a few stalled streams do not stop the others; beyond that they hold the window, which bounds
 * what the tunnel buffers. A stream's own window still bounds what it alone may hold.
 */
final class TunnelWindow {
    /** The shortest measuring period: several reads of the tunnel, so that a burst is not taken for the rate. */
    static final long MIN_PERIOD_NANOS = 10_000_000;
    /** How much more a doubled window must carry to be kept. */
    static final int GAIN_PERCENT = 25;
    /** How long a window that did not gain waits before it tries again. */
    static final long RETRY_MILLIS = 1_000;

    private final int max;
    private final LongSupplier rttNanos;
    private int size; // the window now
    private int available; // what the peer may still send
    private int unacked; // taken out of the window (delivered or parked), not yet granted back
    private int owed; // the window went back: granted back that much less
    private int parked; // granted back while waiting in stalled streams
    private long periodStart;
    private long periodBytes;
    private double best; // the most bytes per nanosecond a period carried at this size
    private int periods; // periods measured at this size
    private int before; // the size before a doubling on trial; 0: none on trial
    private long nextTry;
    private long pingRtt = Long.MAX_VALUE; // the shortest PING round trip so far

    /** {@code rttNanos}: the connection's round trip now, or a negative value where it is not known. */
    TunnelWindow(int initial, int max, LongSupplier rttNanos, long now) {
        this.max = max;
        this.size = initial;
        this.available = initial;
        this.rttNanos = rttNanos;
        this.periodStart = now;
        this.nextTry = now;
    }

    int size() {
        return size;
    }

    int available() {
        return available;
    }

    /** A PING's round trip. */
    void pingRtt(long nanos) {
        if (nanos > 0 && nanos < pingRtt) {
            pingRtt = nanos;
        }
    }

    /** {@code n} bytes arrived; false when they are beyond the window (the peer broke the protocol). */
    boolean receive(int n) {
        if (n > available) {
            return false;
        }
        available -= n;
        periodBytes += n;
        return true;
    }

    /** {@code n} received bytes were delivered (or dropped): true when a grant is due ({@link #grant}). */
    boolean consumed(int n) {
        unacked += n;
        return unacked >= size / 2;
    }

    /**
     * {@code n} received bytes wait in a stream whose reader paused: true when they are granted back
     * now ({@link #consumed} then follows), false when the stalled streams already hold {@code max}.
     */
    boolean park(int n) {
        if (parked + (long) n > max) {
            return false;
        }
        parked += n;
        return true;
    }

    /** Parked bytes were delivered or dropped: they were granted back when they parked. */
    void unpark(int n) {
        parked -= n;
    }

    /** What to grant the peer now (0: nothing yet): what was taken out since the last grant, and what the window grew by. */
    int grant(long now) {
        tune(now);
        int increment = unacked - owed;
        if (increment <= 0) { // paying back a window that went back
            owed = -increment;
            unacked = 0;
            return 0;
        }
        owed = 0;
        unacked = 0;
        available += increment;
        return increment;
    }

    private void tune(long now) {
        long elapsed = now - periodStart;
        if (elapsed < MIN_PERIOD_NANOS || size == max && before == 0) {
            return;
        }
        long rtt = rttNanos.getAsLong();
        if (rtt < 0) { // no round trip to go by: as large as allowed
            unacked += max - size;
            size = max;
            return;
        }
        if (pingRtt != Long.MAX_VALUE) {
            rtt = Math.max(rtt, pingRtt);
        }
        if (elapsed < 4 * rtt) {
            return;
        }
        double rate = (double) periodBytes / elapsed;
        periodStart = now;
        periodBytes = 0;
        boolean gained = false;
        if (before > 0) { // a doubling on trial: kept if it carried clearly more than the smaller window ever did
            gained = rate * 100 >= best * (100 + GAIN_PERCENT);
            if (gained) {
                best = rate;
                periods = 1;
            } else {
                owed += size - before;
                size = before;
                best = 0;
                periods = 0;
                nextTry = now + RETRY_MILLIS * 1_000_000;
            }
            before = 0;
        } else {
            best = Math.max(best, rate);
            periods++;
        }
        if ((gained || periods >= 3) && size < max && now - nextTry >= 0 && rate * rtt * 2 > size) { // the window may be what limits
            before = size;
            unacked += (int) Math.min(max, 2L * size) - size;
            size = (int) Math.min(max, 2L * size);
        }
    }
}
