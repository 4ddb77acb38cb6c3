package dev.titan.tunnel;

import dev.titan.core.limit.UserAccounts;
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
    private final UserAccounts users;
    private final Map<String, ClientMeters> meters = new ConcurrentHashMap<>();
    private final AtomicLong streamsTotal = new AtomicLong();

    TunnelAccounts(Store store) {
        this.users = new UserAccounts(store);
    }

    /** The user's {@code max_connections}, 0 for none. */
    int maxConnections(String id) {
        return users.limits(id).maxConnections();
    }

    /** Takes a place for a stream of {@code id}; false when it has its {@code max_connections} open. */
    boolean admit(String id) {
        return users.admit(id) == null;
    }

    /** Gives back a place {@link #admit} took. */
    void release(String id) {
        users.release(id);
    }

    /** Counts an answered stream of {@code id} and attaches its account for the relay that will carry it. */
    void opened(String id, Channel stream) {
        streamsTotal.incrementAndGet();
        ClientMeters m = meters(id);
        m.streams.increment();
        Relay.account(stream, users.accounting(id, stream, m));
    }

    long streamsTotal() {
        return streamsTotal.get();
    }

    ClientMeters meters(String id) {
        return meters.computeIfAbsent(id, k -> new ClientMeters());
    }
}
