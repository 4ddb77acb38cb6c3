package dev.titan.core.limit;

import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * A bandwidth limit shared by any number of connections on any event loops: a token bucket of
 * {@code bytesPerSecond} that holds at most {@code burstBytes}, kept as a single "theoretical
 * arrival time" (the generic cell rate algorithm), so taking bytes is one compare-and-set.
 *
 * <p>Bytes are taken after they were read (they must be sent anyway); {@link #take} answers how
 * long the reader should pause so that the average stays at the rate. A reader that honours the
 * pause never runs more than one read (plus the burst) ahead of the limit.
 */
public final class RateLimiter {
    private final long bytesPerSecond;
    private final long burstNanos;
    private final LongSupplier clock;
    private final AtomicLong tat; // the time at which the bucket would be full again; <= now: full

    public RateLimiter(long bytesPerSecond, long burstBytes, LongSupplier nanoClock) {
        if (bytesPerSecond <= 0 || burstBytes < 0) {
            throw new IllegalArgumentException("rate must be > 0 and burst >= 0, got " + bytesPerSecond + " B/s, burst " + burstBytes);
        }
        this.bytesPerSecond = bytesPerSecond;
        this.burstNanos = nanosFor(burstBytes);
        this.clock = nanoClock;
        this.tat = new AtomicLong(nanoClock.getAsLong());
    }

    /** {@code bytesPerSecond} with a burst of 100 ms worth of bytes (at least 64 KiB), on the system clock. */
    public static RateLimiter of(long bytesPerSecond) {
        return new RateLimiter(bytesPerSecond, Math.max(64 << 10, bytesPerSecond / 10), System::nanoTime);
    }

    public long bytesPerSecond() {
        return bytesPerSecond;
    }

    /** Takes {@code n} bytes; returns how many nanoseconds the reader should wait before reading again (0: go on). */
    public long take(long n) {
        long cost = nanosFor(n);
        while (true) {
            long now = clock.getAsLong();
            long current = tat.get();
            long next = Math.max(current, now) + cost;
            if (tat.compareAndSet(current, next)) {
                return Math.max(0, next - now - burstNanos);
            }
        }
    }

    /** Takes {@code n} only if they fit in the bucket now (an admission: a new connection); false, taking nothing, if not. */
    public boolean tryTake(long n) {
        long cost = nanosFor(n);
        while (true) {
            long now = clock.getAsLong();
            long current = tat.get();
            long next = Math.max(current, now) + cost;
            if (next - now - burstNanos > 0) {
                return false;
            }
            if (tat.compareAndSet(current, next)) {
                return true;
            }
        }
    }

    private long nanosFor(long bytes) {
        return bytes >= Long.MAX_VALUE / 1_000_000_000L ? Long.MAX_VALUE / 2 : bytes * 1_000_000_000L / bytesPerSecond;
    }

    /**
     * Parses a rate: a number with {@code kbit}, {@code mbit}, {@code gbit} (bits per second, SI),
     * or {@code KB}, {@code MB}, {@code GB} (bytes per second, SI) or {@code KiB}, {@code MiB},
     * {@code GiB} (binary), optionally followed by {@code /s}; e.g. {@code 100mbit}, {@code 12.5MB/s}.
     * Returns bytes per second.
     */
    public static long parseRate(String text) {
        String t = text.trim().replace(" ", "");
        if (t.toLowerCase(Locale.ROOT).endsWith("/s")) {
            t = t.substring(0, t.length() - 2);
        }
        double bytes = bytes(text, t, true, "a rate such as 100mbit, 1gbit or 12MB/s");
        if (bytes < 1) {
            throw new IllegalArgumentException("'" + text + "': a rate must be at least 1 byte per second");
        }
        return (long) bytes;
    }

    /**
     * Parses an amount of bytes: a number, optionally with {@code KB}, {@code MB}, {@code GB},
     * {@code TB} (SI) or {@code KiB}, {@code MiB}, {@code GiB}, {@code TiB} (binary); e.g. {@code 10GB}.
     */
    public static long parseSize(String text) {
        double bytes = bytes(text, text.trim().replace(" ", ""), false, "a size such as 512MiB, 10GB or 1048576");
        if (bytes < 1) {
            throw new IllegalArgumentException("'" + text + "': a size must be at least 1 byte");
        }
        return (long) bytes;
    }

    private static double bytes(String text, String t, boolean bits, String example) {
        int i = 0;
        while (i < t.length() && (Character.isDigit(t.charAt(i)) || t.charAt(i) == '.')) {
            i++;
        }
        if (i == 0) {
            throw new IllegalArgumentException("'" + text + "': expected " + example);
        }
        double value;
        try {
            value = Double.parseDouble(t.substring(0, i));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "': expected " + example);
        }
        String unit = t.substring(i);
        Double bitRate = !bits ? null : switch (unit) {
            case "bit", "bps" -> value / 8;
            case "kbit", "Kbit" -> value * 1e3 / 8;
            case "mbit", "Mbit" -> value * 1e6 / 8;
            case "gbit", "Gbit" -> value * 1e9 / 8;
            default -> null;
        };
        if (bitRate != null) {
            return bitRate;
        }
        return switch (unit) {
            case "", "B" -> value;
            case "KB", "kB" -> value * 1e3;
            case "MB" -> value * 1e6;
            case "GB" -> value * 1e9;
            case "TB" -> value * 1e12;
            case "KiB" -> value * 1024;
            case "MiB" -> value * 1024 * 1024;
            case "GiB" -> value * 1024 * 1024 * 1024;
            case "TiB" -> value * 1024 * 1024 * 1024 * 1024;
            default -> throw new IllegalArgumentException("'" + text + "': unknown unit '" + unit + "' ("
                    + (bits ? "bit, kbit, mbit, gbit, " : "") + "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)");
        };
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%.1f Mbit/s", bytesPerSecond * 8 / 1e6) + ", burst "
                + TimeUnit.NANOSECONDS.toMillis(burstNanos) + " ms";
    }
}
