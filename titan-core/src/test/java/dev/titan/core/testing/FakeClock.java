package dev.titan.core.testing;

import dev.titan.core.time.Clock;
import java.time.Duration;

/** A clock that moves only when told to. */
public final class FakeClock implements Clock {
    private long nanos = 1_000_000_000L;

    @Override
    public synchronized long nanos() {
        return nanos;
    }

    public synchronized void advance(Duration d) {
        nanos += d.toNanos();
    }
}
