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

    /** A user's limits: connections open at once, bytes per second each way, 0 for none. */
    record Limits(int maxConnections, long bytesPerSecondIn, long bytesPerSecondOut) {
        public static final Limits NONE = new Limits(0, 0, 0);
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
    }
}
