package dev.titan.tunnel;

import dev.titan.core.limit.ConnectionLimits;
import java.net.InetAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the tunnel port remembers about the addresses that handshake with it: how many handshakes
 * each has under way (at most {@value #MAX_CONCURRENT}; parallel guesses are closed at once), and
 * after a refused one, until when the next is refused unchecked: 250 ms, doubling per refusal in a
 * row, at most 30 s. Bounded: past {@value #MAX_TRACKED} remembered addresses the memory starts
 * again (a flood of addresses resets it, the delay still holds for each address while it is kept).
 */
final class HandshakeGuard {
    static final int MAX_CONCURRENT = 8;
    private static final int MAX_TRACKED = 10_000;

    private record Failures(int inARow, long blockedUntilNanos) {
    }

    private final ConnectionLimits<InetAddress> inProgress = new ConnectionLimits<>();
    private final Map<InetAddress, Failures> failures = new ConcurrentHashMap<>();

    /** Counts a handshake from {@code ip}; false if it already has {@link #MAX_CONCURRENT} under way. */
    boolean startHandshake(InetAddress ip) {
        return inProgress.tryAcquire(ip, MAX_CONCURRENT);
    }

    void endHandshake(InetAddress ip) {
        inProgress.release(ip);
    }

    /** A handshake from {@code ip} was refused: returns how long its next one must wait, in milliseconds. */
    long failed(InetAddress ip) {
        if (failures.size() > MAX_TRACKED) {
            failures.clear();
        }
        Failures f = failures.merge(ip, new Failures(1, 0), (old, one) -> new Failures(old.inARow() + 1, 0));
        long delay = Math.min(30_000, 250L << Math.min(7, f.inARow() - 1));
        failures.put(ip, new Failures(f.inARow(), System.nanoTime() + delay * 1_000_000));
        return delay;
    }

    /** How long {@code ip} must still wait before a handshake of its is checked (0: not at all). */
    long blockedMillis(InetAddress ip) {
        Failures f = failures.get(ip);
        if (f == null) {
            return 0;
        }
        long left = f.blockedUntilNanos() - System.nanoTime();
        return left > 0 ? Math.max(1, left / 1_000_000) : 0;
    }

    void succeeded(InetAddress ip) {
        failures.remove(ip);
    }
}
