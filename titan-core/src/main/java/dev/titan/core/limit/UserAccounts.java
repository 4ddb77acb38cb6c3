package dev.titan.core.limit;

import dev.titan.core.net.Relay;
import dev.titan.core.store.Store;
import io.netty.channel.Channel;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * What Titan counts and limits per user, across all of a user's connections together, whatever
 * port they came in on: connections open at once, new connections per second, bandwidth each way
 * (one token bucket per direction, shared by the user's connections), and a traffic quota (both
 * ways, in total or per day or month). Limits are the {@link Store}'s user's, read per connection,
 * so a reload applies to the next one; usage goes to the store's counters.
 *
 * <pre>{@code
 * String no = accounts.admit("alice", client);          // null: admitted until client closes
 * Relay.account(upstream, accounts.accounting("alice", upstream, extraStats));
 * }</pre>
 *
 * <p>A quota is checked on every read a relay counts: the connection whose read crosses it is closed
 * after passing that read on, so each connection open at that moment overshoots by at most one read
 * (64 KiB on a socket, a 16 KiB frame on a tunnel stream); later connections are refused.
 */
public final class UserAccounts {
    private static final String TOTAL = Store.QuotaPeriod.TOTAL.key(null);
    private final Store store;
    private final ConnectionLimits<String> open = new ConnectionLimits<>();
    private final Map<String, Rates> rates = new ConcurrentHashMap<>();
    private final LongSupplier nanoClock;
    private final Supplier<LocalDate> today;

    public UserAccounts(Store store) {
        this(store, System::nanoTime, () -> LocalDate.now(ZoneOffset.UTC));
    }

    public UserAccounts(Store store, LongSupplier nanoClock, Supplier<LocalDate> today) {
        this.store = store;
        this.nanoClock = nanoClock;
        this.today = today;
    }

    public Store.Limits limits(String id) {
        Store.User u = store.user(id);
        return u == null ? Store.Limits.NONE : u.limits();
    }

    /**
     * Admits a new connection of {@code id} on {@code client}, holding its place among the user's
     * open connections until {@code client} closes; or says why not (the quota is used up, the user
     * has its {@code max_connections} open, or opened its {@code max_new_per_second}).
     */
    public String admit(String id, Channel client) {
        String why = admit(id);
        if (why == null) {
            client.closeFuture().addListener(f -> release(id));
        }
        return why;
    }

    /** {@link #admit(String, Channel)} without a channel: the caller {@link #release}s the place. */
    public String admit(String id) {
        String used = quotaUsed(id);
        if (used != null) {
            return used;
        }
        Store.Limits l = limits(id);
        Rates r = rates(id, l);
        if (r.newConnections != null && !r.newConnections.tryTake(1)) {
            return "rate: user " + id + " opens more than " + l.maxNewPerSecond() + " connections per second";
        }
        if (!open.tryAcquire(id, l.maxConnections())) {
            return "limit: user " + id + " has its " + l.maxConnections() + " connections open";
        }
        return null;
    }

    /** Why {@code id} may not move more bytes now (its quota is used up), or null. */
    public String quotaUsed(String id) {
        Store.Limits l = limits(id);
        if (l.quotaBytes() > 0 && store.usage(id).inPeriod(l.quotaPeriod().key(today.get())) >= l.quotaBytes()) {
            return "quota: user " + id + " has used its " + l.quotaBytes() + " bytes" + (l.quotaPeriod() == Store.QuotaPeriod.TOTAL ? ""
                    : " this " + l.quotaPeriod().name().toLowerCase());
        }
        return null;
    }

    public void release(String id) {
        open.release(id);
    }

    /** Connections of {@code id} open now. */
    public int open(String id) {
        return open.open(id);
    }

    /**
     * The accounting of one connection of {@code id} for the relay that carries {@code upstream}:
     * its bytes to the user's usage (and {@code extra}, e.g. meters; may be null), the user's
     * bandwidth limits, and the quota, which closes {@code upstream} once it is used up.
     */
    public Relay.Accounting accounting(String id, Channel upstream, Relay.Stats extra) {
        Store.Limits l = limits(id);
        Store.Usage usage = store.usage(id);
        usage.connections.increment();
        Rates r = rates(id, l);
        Relay.Stats counted = new Counted(usage, l, upstream);
        return new Relay.Accounting(extra == null ? counted : Relay.Stats.both(extra, counted), r.toUpstream, r.fromUpstream);
    }

    /** The store's counters, and the quota's check on each read. */
    private final class Counted implements Relay.Stats {
        private final Store.Usage usage;
        private final Store.Limits limits;
        private final Channel upstream;

        Counted(Store.Usage usage, Store.Limits limits, Channel upstream) {
            this.usage = usage;
            this.limits = limits;
            this.upstream = upstream;
        }

        @Override
        public void bytesFromA(long n) {
            usage.bytesIn.add(n);
            quota(n);
        }

        @Override
        public void bytesFromB(long n) {
            usage.bytesOut.add(n);
            quota(n);
        }

        private void quota(long n) {
            Store.QuotaPeriod period = limits.quotaPeriod();
            long used = usage.addToPeriod(period == Store.QuotaPeriod.TOTAL ? TOTAL : period.key(today.get()), n); // no calendar per read unless needed
            if (limits.quotaBytes() > 0 && used >= limits.quotaBytes() && upstream.isOpen()) {
                upstream.close(); // the relay passes on this read, then closes the other side too
            }
        }

        @Override
        public void closed(Relay relay) {
        }
    }

    /** A user's buckets, shared by its connections; limits that change on reload get new ones. */
    private record Rates(Store.Limits limits, RateLimiter toUpstream, RateLimiter fromUpstream, RateLimiter newConnections) {
        boolean sameAs(Store.Limits l) {
            return limits.bytesPerSecondIn() == l.bytesPerSecondIn() && limits.bytesPerSecondOut() == l.bytesPerSecondOut()
                    && limits.maxNewPerSecond() == l.maxNewPerSecond();
        }
    }

    private Rates rates(String id, Store.Limits l) {
        Rates current = rates.get(id);
        if (current != null && current.sameAs(l)) {
            return current;
        }
        return rates.compute(id, (k, old) -> old != null && old.sameAs(l) ? old
                : new Rates(l, l.bytesPerSecondIn() == 0 ? null : RateLimiter.of(l.bytesPerSecondIn()),
                        l.bytesPerSecondOut() == 0 ? null : RateLimiter.of(l.bytesPerSecondOut()),
                        l.maxNewPerSecond() == 0 ? null : new RateLimiter(l.maxNewPerSecond(), l.maxNewPerSecond(), nanoClock)));
    }
}
