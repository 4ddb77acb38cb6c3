package dev.titan.overlay;

import dev.titan.core.cluster.Endpoint;
import dev.titan.core.time.Clock;
import io.netty.channel.Channel;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * Which edges may take a user's connection: the user's {@link RoutingPolicy} and the username's
 * {@link UserParams} give a filter (labels, a pinned edge), and a sticky session, a timed user or a
 * rotating user binds the choice to one edge. The edge cluster's balancer then connects among the
 * edges this allows; the core picker makes every choice ({@link Edges#choose}).
 *
 * <p>A sticky session keeps its edge for its lifetime ({@code sesstime}, from its first
 * connection) and ends sooner after {@value #IDLE_SECONDS} s with no connection open. When its edge
 * goes away, a {@code flex} session moves to another edge that matches the same filter, under the
 * same session id; a {@code strict} one fails with that reason until it ends. A filter that matches
 * no live edge fails at once with the filter in the reason. Time comes from a {@link Clock}.
 */
final class EdgeRouting {
    static final long IDLE_SECONDS = 60;
    private static final long IDLE_NANOS = TimeUnit.SECONDS.toNanos(IDLE_SECONDS);

    /** The edges a PoP has now. */
    interface Edges {
        /** The balancer's choice among live edges {@code eligible} accepts, or null. */
        Endpoint choose(Predicate<Endpoint> eligible);

        /** Whether {@code e} is still connected and takes new connections. */
        boolean live(Endpoint e);
    }

    /** The edges a connection may take, or why it cannot be carried. */
    record Decision(Predicate<Endpoint> eligible, ProxyFailure refusal) {
        static Decision refuse(String detail) {
            ProxyFailure f = new ProxyFailure("destination_unavailable", ProxyFailure.SOCKS_HOST_UNREACHABLE, 503, detail);
            return new Decision(new PopContext.Refused(f), f);
        }
    }

    /** One sticky choice: a session's, a timed user's or a rotating user's last edge. */
    static final class Binding {
        final Endpoint endpoint;
        final long created;
        final long lifetime;
        final boolean idleEnds;
        final AtomicInteger open = new AtomicInteger();
        final AtomicLong lastActive;

        Binding(Endpoint endpoint, long created, long lifetime, boolean idleEnds) {
            this.endpoint = endpoint;
            this.created = created;
            this.lifetime = lifetime;
            this.idleEnds = idleEnds;
            this.lastActive = new AtomicLong(created);
        }

        boolean expired(long now) {
            return now - created >= lifetime || (idleEnds && open.get() == 0 && now - lastActive.get() >= IDLE_NANOS);
        }

        /** The same session on another edge: its lifetime goes on from its start. */
        Binding movedTo(Endpoint e, long now) {
            Binding b = new Binding(e, created, lifetime, idleEnds);
            b.lastActive.set(now);
            return b;
        }
    }

    private final Clock clock;
    private final Map<String, Binding> bindings = new ConcurrentHashMap<>();
    private volatile Map<String, RoutingPolicy> policies;
    private final AtomicInteger sweepCountdown = new AtomicInteger(1024);

    EdgeRouting(Map<String, RoutingPolicy> policies, Clock clock) {
        this.policies = Map.copyOf(policies);
        this.clock = clock;
    }

    void policies(Map<String, RoutingPolicy> next) {
        policies = Map.copyOf(next);
    }

    Decision decide(UserParams p, Edges edges) {
        sweep();
        RoutingPolicy policy = policies.getOrDefault(p.user(), RoutingPolicy.AUTO);
        Map<String, String> labels = new HashMap<>(policy.labels());
        labels.putAll(p.labels());
        String pin = p.edge() != null ? p.edge() : policy.edge();
        Predicate<Endpoint> match = e -> matches(e, labels, pin);
        String what = describe(labels, pin);
        if (p.session() != null) {
            return sticky("session:" + p.user() + ":" + p.session(), p.sessionTime().toNanos(), true, p.strict(), false, match, what,
                    edges, "session " + p.session());
        }
        return switch (policy.mode()) {
            case TIMED -> sticky("timed:" + p.user(), policy.interval().toNanos(), false, false, true, match, what, edges, null);
            case ROTATING -> rotating("rotating:" + p.user(), match, what, edges);
            case AUTO, MANUAL -> edges.choose(match) == null ? Decision.refuse(noEdge(what)) : new Decision(match, null);
        };
    }

    /** A connection of {@code p} was connected on {@code client}: its session is in use until the client closes. */
    void opened(UserParams p, Channel client) {
        if (p.session() == null) {
            return;
        }
        Binding b = bindings.get("session:" + p.user() + ":" + p.session());
        if (b == null) {
            return;
        }
        b.open.incrementAndGet();
        b.lastActive.set(clock.nanos());
        client.closeFuture().addListener(f -> {
            b.lastActive.set(clock.nanos());
            b.open.decrementAndGet();
        });
    }

    private Decision sticky(String key, long lifetime, boolean idleEnds, boolean strict, boolean avoidPrevious, Predicate<Endpoint> match,
                            String what, Edges edges, String name) {
        long now = clock.nanos();
        Decision[] out = new Decision[1];
        bindings.compute(key, (k, b) -> {
            if (b != null && !b.expired(now)) {
                if (edges.live(b.endpoint)) {
                    b.lastActive.set(now);
                    out[0] = only(b.endpoint);
                    return b;
                }
                if (strict) {
                    out[0] = Decision.refuse(name + ": its edge " + b.endpoint.id() + " is gone, and sessmode is strict");
                    return b;
                }
                Endpoint next = edges.choose(match);
                if (next == null) {
                    out[0] = Decision.refuse(noEdge(what));
                    return b;
                }
                out[0] = only(next);
                return b.movedTo(next, now);
            }
            Endpoint previous = b == null ? null : b.endpoint;
            Endpoint chosen = avoidPrevious && previous != null ? edges.choose(match.and(e -> e != previous)) : null;
            if (chosen == null) {
                chosen = edges.choose(match);
            }
            if (chosen == null) {
                out[0] = Decision.refuse(noEdge(what));
                return null;
            }
            out[0] = only(chosen);
            return new Binding(chosen, now, lifetime, idleEnds);
        });
        return out[0];
    }

    private Decision rotating(String key, Predicate<Endpoint> match, String what, Edges edges) {
        Decision[] out = new Decision[1];
        bindings.compute(key, (k, last) -> {
            Endpoint previous = last == null ? null : last.endpoint;
            Endpoint chosen = previous == null ? null : edges.choose(match.and(e -> e != previous));
            if (chosen == null) {
                chosen = edges.choose(match);
            }
            if (chosen == null) {
                out[0] = Decision.refuse(noEdge(what));
                return last;
            }
            out[0] = only(chosen);
            return new Binding(chosen, clock.nanos(), Long.MAX_VALUE, false);
        });
        return out[0];
    }

    private static Decision only(Endpoint e) {
        return new Decision(c -> c == e, null);
    }

    /** Drops ended bindings now and then, so that sessions nobody uses again do not pile up. */
    private void sweep() {
        if (sweepCountdown.decrementAndGet() > 0) {
            return;
        }
        sweepCountdown.set(1024);
        long now = clock.nanos();
        bindings.values().removeIf(b -> b.expired(now));
    }

    /** Bindings held now (for tests and status). */
    int bindings() {
        return bindings.size();
    }

    static boolean matches(Endpoint e, Map<String, String> labels, String pin) {
        Map<String, String> have = e.labels();
        if (pin != null && !pin.equals(have.get("id"))) {
            return false;
        }
        for (Map.Entry<String, String> want : labels.entrySet()) {
            String v = have.get(want.getKey());
            if (v == null || !v.toLowerCase(Locale.ROOT).equals(want.getValue())) {
                return false;
            }
        }
        return true;
    }

    private static String describe(Map<String, String> labels, String pin) {
        StringBuilder b = new StringBuilder();
        labels.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(en -> b.append(b.isEmpty() ? "" : " ").append(en.getKey()).append('=').append(en.getValue()));
        if (pin != null) {
            b.append(b.isEmpty() ? "" : " ").append("edge=").append(pin);
        }
        return b.toString();
    }

    private static String noEdge(String what) {
        return what.isEmpty() ? "no edge is connected" : "no edge " + what;
    }
}
