package dev.titan.core.balance;

import dev.titan.core.cluster.Endpoint;
import java.util.Set;

/**
 * What a balancer may use to choose: a hash key (the client's IP for L4), the endpoints already
 * tried for this connection, and the current time.
 */
public record PickContext(long hashKey, Set<Endpoint> exclude, long nowNanos) {
    public PickContext {
        exclude = exclude == null ? Set.of() : exclude;
    }

    public boolean allowed(Endpoint e) {
        return exclude.isEmpty() || !exclude.contains(e);
    }
}
