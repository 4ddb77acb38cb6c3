package dev.titan.core.store;

import java.security.MessageDigest;
import java.time.Instant;
import java.util.Collection;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where Titan keeps who may use it and what they used: users (credentials, limits, routing
 * mode), nodes (tunnel clients today, edges later: id, labels, when last seen) and usage counters
 * per user. Modules read users and record nodes and usage through it, never from their own
 * configuration, so the same module runs on a store shared by several processes.
 * {@link ConfigStore} is the one that reads users from the configuration file.
 *
 * <p>Implementations are safe for use from any thread; lookups are on the connection path and must
 * not block.
 */
public interface Store {
    /** The user with {@code id}, or null. */
    User user(String id);

    Collection<User> users();

    /** Records that node {@code id} is connected now, with its labels. */
    void nodeSeen(String id, Map<String, String> labels, Instant at);

    /** Records that node {@code id} has no connection left. */
    void nodeLeft(String id, Instant at);

    /** The node with {@code id}, or null if it was never seen. */
    Node node(String id);

    Collection<Node> nodes();

    /** The usage counters of {@code userId}: the caller adds to them as bytes flow; the store keeps (and later shares) them. */
    Usage usage(String userId);

    /** Every user's usage counters the store holds, by user id (a snapshot of the map; the counters are live). */
    Map<String, Usage> usageById();

    /**
     * Someone who may use Titan: its {@code id}, the secret it proves itself with (never logged;
     * compare with {@link #secretEquals}), its limits, and how its traffic is routed (null: the
     * default).
     */
    record User(String id, byte[] secret, Limits limits, String routingMode) {
        public User {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(secret, "secret");
            Objects.requireNonNull(limits, "limits");
            secret = secret.clone();
        }

        @Override
        public byte[] secret() {
            return secret.clone();
        }

        /** Compares {@code candidate} with the secret in constant time. */
        public boolean secretEquals(byte[] candidate) {
            return MessageDigest.isEqual(secret, candidate);
        }

        @Override
        public String toString() { // never the secret
            return "User[" + id + ", " + limits + (routingMode == null ? "" : ", routing " + routingMode) + "]";
        }
    }

    /**
     * A user's limits, 0 for none: connections open at once, new connections per second, bytes per
     * second each way, and a traffic quota (bytes both ways together) per {@code quotaPeriod}.
     */
    record Limits(int maxConnections, long bytesPerSecondIn, long bytesPerSecondOut, int maxNewPerSecond, long quotaBytes,
                  QuotaPeriod quotaPeriod) {
        public static final Limits NONE = new Limits(0, 0, 0);

        public Limits {
            quotaPeriod = quotaPeriod == null ? QuotaPeriod.TOTAL : quotaPeriod;
        }

        public Limits(int maxConnections, long bytesPerSecondIn, long bytesPerSecondOut) {
            this(maxConnections, bytesPerSecondIn, bytesPerSecondOut, 0, 0, QuotaPeriod.TOTAL);
        }
    }

    /** What a quota counts: all traffic ever, or each calendar day or month (UTC). */
    enum QuotaPeriod {
        TOTAL, DAY, MONTH;

        /** The period {@code date} falls in, as a key that changes when a new period starts. */
        public String key(java.time.LocalDate date) {
            return switch (this) {
                case TOTAL -> "total";
                case DAY -> date.toString();
                case MONTH -> date.toString().substring(0, 7);
            };
        }
    }

    /** A node: a tunnel client (later an edge), its labels, whether it is connected, and when it last connected or left. */
    record Node(String id, Map<String, String> labels, Instant lastSeen, boolean connected) {
        public Node {
            labels = Map.copyOf(labels);
        }
    }

    /** What one user moved: bytes toward its service and back, and connections; added to as traffic flows. */
    final class Usage {
        public final LongAdder bytesIn = new LongAdder();
        public final LongAdder bytesOut = new LongAdder();
        public final LongAdder connections = new LongAdder();
        /** Bytes both ways in the current quota period, and which period that is. */
        public final java.util.concurrent.atomic.AtomicLong periodBytes = new java.util.concurrent.atomic.AtomicLong();
        public volatile String period = "total";

        /** Adds {@code n} to the bytes of period {@code key} (starting that period afresh if it is new); the period's total. */
        public long addToPeriod(String key, long n) {
            if (!key.equals(period)) {
                synchronized (this) {
                    if (!key.equals(period)) {
                        periodBytes.set(0);
                        period = key;
                    }
                }
            }
            return periodBytes.addAndGet(n);
        }

        /** Bytes used so far in period {@code key}. */
        public long inPeriod(String key) {
            return key.equals(period) ? periodBytes.get() : 0;
        }
    }
}
