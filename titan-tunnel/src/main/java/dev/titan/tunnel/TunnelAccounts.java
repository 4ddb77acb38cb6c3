package dev.titan.tunnel;

import dev.titan.core.limit.ConnectionLimits;
import dev.titan.core.limit.RateLimiter;
import dev.titan.core.net.Relay;
import dev.titan.core.store.Store;
import io.netty.channel.Channel;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the server counts and limits per tunnel user (client id), whichever port a user connection
 * came in on: its open streams against {@code max_connections}, its streams and bytes (the
 * meters, and the store's usage), and its bandwidth limits, shared by all its streams. Limits
 * come from the {@link Store}'s user. The {@link TunnelConnector} takes a place before it opens a
 * stream and attaches the account to the stream once the client has answered, so the relay that
 * carries the stream counts and limits it.
 */
final class TunnelAccounts {
    private final Store store;
    private final ConnectionLimits<String> open = new ConnectionLimits<>();
    private final Map<String, ClientMeters> meters = new ConcurrentHashMap<>();
    private final Map<String, UserRates> rates = new ConcurrentHashMap<>();
    private final AtomicLong streamsTotal = new AtomicLong();

    TunnelAccounts(Store store) {
        this.store = store;
    }

    private Store.Limits limits(String id) {
        Store.User u = store.user(id);
        return u == null ? Store.Limits.NONE : u.limits();
    }

    /** The user's {@code max_connections}, 0 for none. */
    int maxConnections(String id) {
        return limits(id).maxConnections();
    }

    /** Takes a place for a stream of {@code id}; false when it has its {@code max_connections} open. */
    boolean admit(String id) {
        return open.tryAcquire(id, maxConnections(id));
    }

    /** Gives back a place {@link #admit} took. */
    void release(String id) {
        open.release(id);
    }

    /** Counts an answered stream of {@code id} and attaches its account for the relay that will carry it. */
    void opened(String id, Channel stream) {
        streamsTotal.incrementAndGet();
        ClientMeters m = meters(id);
        m.streams.increment();
        Store.Usage usage = store.usage(id);
        usage.connections.increment();
        UserRates r = rates(id);
        Relay.account(stream, new Relay.Accounting(Relay.Stats.both(m, new UsageStats(usage)), r.toClient, r.fromClient));
    }

    /** Adds a stream's bytes to its user's usage in the store. */
    private record UsageStats(Store.Usage usage) implements Relay.Stats {
        @Override
        public void bytesFromA(long n) {
            usage.bytesIn.add(n);
        }

        @Override
        public void bytesFromB(long n) {
            usage.bytesOut.add(n);
        }

        @Override
        public void closed(Relay relay) {
        }
    }

    long streamsTotal() {
        return streamsTotal.get();
    }

    ClientMeters meters(String id) {
        return meters.computeIfAbsent(id, k -> new ClientMeters());
    }

    /** A user's bandwidth limits, shared by all its streams; a reload that changes a rate gives new streams a new limiter. */
    private record UserRates(Store.Limits limits, RateLimiter toClient, RateLimiter fromClient) {
        static UserRates of(Store.Limits l) {
            return new UserRates(l, l.bytesPerSecondIn() == 0 ? null : RateLimiter.of(l.bytesPerSecondIn()),
                    l.bytesPerSecondOut() == 0 ? null : RateLimiter.of(l.bytesPerSecondOut()));
        }

        boolean sameAs(Store.Limits l) {
            return limits.bytesPerSecondIn() == l.bytesPerSecondIn() && limits.bytesPerSecondOut() == l.bytesPerSecondOut();
        }
    }

    private UserRates rates(String id) {
        Store.Limits l = limits(id);
        UserRates current = rates.get(id);
        if (current != null && current.sameAs(l)) {
            return current;
        }
        return rates.compute(id, (k, old) -> old != null && old.sameAs(l) ? old : UserRates.of(l));
    }
}
