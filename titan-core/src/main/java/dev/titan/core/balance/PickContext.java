package dev.titan.core.balance;

import dev.titan.core.cluster.Endpoint;
import java.util.Set;
import java.util.function.Predicate;

/**
 * What a balancer may use to choose: a hash key (the client's IP for L4), the endpoints already
 * tried for this connection, and the current time.
 */
public record PickContext(long hashKey, Set<Endpoint> exclude, long nowNanos, Predicate<Endpoint> eligible) {
    public PickContext {
        exclude = exclude == null ? Set.of() : exclude;
    }

    public PickContext(long hashKey, Set<Endpoint> exclude, long nowNanos) {
        this(hashKey, exclude, nowNanos, null);
    }

    /** Whether {@code e} may be chosen: not tried yet, and eligible for this request. */
    public boolean allowed(Endpoint e) {
        return (exclude.isEmpty() || !exclude.contains(e)) && (eligible == null || eligible.test(e));
    }
}
