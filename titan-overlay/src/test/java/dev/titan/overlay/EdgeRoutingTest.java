package dev.titan.overlay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.titan.core.cluster.Endpoint;
import dev.titan.core.config.ScoringConfig;
import dev.titan.core.testing.FakeClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/** Routing modes, username parameters and sticky sessions, on a fake clock over a list of edges. */
class EdgeRoutingTest {
    private final FakeClock clock = new FakeClock();

    /** Edges as routing sees them; choose takes the first eligible live one, in a rotating order so that ties spread. */
    private static final class ListEdges implements EdgeRouting.Edges {
        final List<Endpoint> all = new ArrayList<>();
        final Set<Endpoint> dead = new HashSet<>();
        int turn;

        Endpoint add(String id, Map<String, String> labels) {
            Map<String, String> l = new java.util.HashMap<>(labels);
            l.put("id", id);
            Endpoint e = Endpoint.peer(id + "@127.0.0.1:1", l, new Object(), ScoringConfig.DEFAULT);
            all.add(e);
            return e;
        }

        @Override
        public Endpoint choose(Predicate<Endpoint> eligible) {
            for (int i = 0; i < all.size(); i++) {
                Endpoint e = all.get((turn + i) % all.size());
                if (!dead.contains(e) && eligible.test(e)) {
                    turn++;
                    return e;
                }
            }
            return null;
        }

        @Override
        public boolean live(Endpoint e) {
            return !dead.contains(e);
        }
    }

    private static Endpoint only(ListEdges edges, EdgeRouting.Decision d) {
        assertThat(d.refusal()).as("not refused").isNull();
        List<Endpoint> ok = edges.all.stream().filter(d.eligible()).toList();
        assertThat(ok).as("a bound decision allows exactly one edge").hasSize(1);
        return ok.getFirst();
    }

    @Test
    void usernameParametersAreParsedAndMistakesNamed() {
        UserParams p = UserParams.parse("alice-country-US-city-new_york-asn-7922-session-ab12cd-sesstime-30-sessmode-strict");
        assertThat(p.user()).isEqualTo("alice");
        assertThat(p.labels()).containsEntry("country", "us").containsEntry("city", "new_york").containsEntry("asn", "7922");
        assertThat(p.session()).isEqualTo("ab12cd");
        assertThat(p.sessionTime()).isEqualTo(Duration.ofMinutes(30));
        assertThat(p.strict()).isTrue();
        assertThat(UserParams.parse("bob").sessionTime()).isEqualTo(Duration.ofMinutes(10));
        assertThatThrownBy(() -> UserParams.parse("alice-colour-red")).hasMessageContaining("unknown username parameter 'colour'");
        assertThatThrownBy(() -> UserParams.parse("alice-country")).hasMessageContaining("has no value");
        assertThatThrownBy(() -> UserParams.parse("alice-session-x-sesstime-0")).hasMessageContaining("1 to 1440");
        assertThatThrownBy(() -> UserParams.parse("alice-session-x-sesstime-1441")).hasMessageContaining("1 to 1440");
        assertThatThrownBy(() -> UserParams.parse("alice-sesstime-5")).hasMessageContaining("need a session");
        assertThatThrownBy(() -> UserParams.parse("alice-country-us-country-de")).hasMessageContaining("twice");
        assertThatThrownBy(() -> UserParams.parse("alice-city-new york")).hasMessageContaining("invalid value");
        assertThatThrownBy(() -> UserParams.parse("alice-session-x-sessmode-loose")).hasMessageContaining("flex or strict");
    }

    @Test
    void labelFiltersAndPinsNarrowTheEdgesAndAMissFailsWithTheFilter() {
        ListEdges edges = new ListEdges();
        Endpoint us = edges.add("e1", Map.of("country", "us", "city", "nyc"));
        Endpoint de = edges.add("e2", Map.of("country", "DE"));
        EdgeRouting r = new EdgeRouting(Map.of(), clock);
        EdgeRouting.Decision d = r.decide(UserParams.parse("alice-country-de"), edges);
        assertThat(edges.all.stream().filter(d.eligible()).toList()).containsExactly(de);
        assertThat(edges.all.stream().filter(r.decide(UserParams.parse("alice-edge-e1"), edges).eligible()).toList()).containsExactly(us);
        assertThat(edges.all.stream().filter(r.decide(UserParams.parse("alice"), edges).eligible()).toList()).containsExactly(us, de);
        EdgeRouting.Decision miss = r.decide(UserParams.parse("alice-country-us-city-sfo"), edges);
        assertThat(miss.refusal().detail()).isEqualTo("no edge city=sfo country=us");
        assertThat(miss.refusal().httpStatus()).isEqualTo(503);
        assertThat(edges.all.stream().filter(miss.eligible()).toList()).isEmpty();
    }

    @Test
    void aStickySessionKeepsItsEdgeForItsLifetimeAndEndsAfterAMinuteIdle() {
        ListEdges edges = new ListEdges();
        edges.add("e1", Map.of("country", "us"));
        edges.add("e2", Map.of("country", "us"));
        edges.add("e3", Map.of("country", "us"));
        EdgeRouting r = new EdgeRouting(Map.of(), clock);
        UserParams s = UserParams.parse("alice-country-us-session-s1-sesstime-5");
        Endpoint first = only(edges, r.decide(s, edges));
        for (int i = 0; i < 20; i++) {
            clock.advance(Duration.ofSeconds(14)); // used every 14 s: never idle for a minute, 4 min 40 s in all
            assertThat(only(edges, r.decide(s, edges))).as("kept at %d", i).isSameAs(first);
        }
        clock.advance(Duration.ofSeconds(21)); // 5 min 1 s after its start: the lifetime is over
        Endpoint after = only(edges, r.decide(s, edges));
        assertThat(r.bindings()).isEqualTo(1);
        clock.advance(Duration.ofSeconds(59));
        assertThat(only(edges, r.decide(s, edges))).as("59 s idle: kept").isSameAs(after);
        clock.advance(Duration.ofSeconds(60));
        Endpoint fresh = only(edges, r.decide(s, edges));
        assertThat(fresh).as("a minute idle ends the session; a new one picks again").isNotNull();
        UserParams other = UserParams.parse("alice-country-us-session-s2");
        assertThat(only(edges, r.decide(other, edges))).as("another session id is another binding").isNotNull();
        assertThat(r.bindings()).isEqualTo(2);
    }

    @Test
    void whenTheEdgeGoesAFlexSessionMovesWithinItsFilterAndAStrictOneFails() {
        ListEdges edges = new ListEdges();
        Endpoint a = edges.add("e1", Map.of("country", "us"));
        Endpoint b = edges.add("e2", Map.of("country", "us"));
        edges.add("e3", Map.of("country", "de"));
        Endpoint c = edges.add("e4", Map.of("country", "us"));
        EdgeRouting r = new EdgeRouting(Map.of(), clock);
        UserParams flex = UserParams.parse("alice-country-us-session-f");
        UserParams strict = UserParams.parse("alice-country-us-session-s-sessmode-strict");
        Endpoint flexEdge = only(edges, r.decide(flex, edges));
        Endpoint strictEdge = only(edges, r.decide(strict, edges));
        edges.dead.add(flexEdge);
        edges.dead.add(strictEdge);
        Endpoint moved = only(edges, r.decide(flex, edges));
        assertThat(moved).isIn(a, b, c).isNotSameAs(flexEdge).isNotSameAs(strictEdge);
        assertThat(moved.labels()).containsEntry("country", "us");
        EdgeRouting.Decision failed = r.decide(strict, edges);
        assertThat(failed.refusal().detail()).contains("session s").contains(strictEdge.labels().get("id")).contains("strict");
        edges.dead.clear();
        assertThat(only(edges, r.decide(flex, edges))).as("a flex session stays where it moved").isSameAs(moved);
    }

    @Test
    void timedRoutingChangesEdgeEveryIntervalAndRotatingEveryConnection() {
        ListEdges edges = new ListEdges();
        edges.add("e1", Map.of());
        edges.add("e2", Map.of());
        EdgeRouting r = new EdgeRouting(Map.of(
                "tim", new RoutingPolicy(RoutingPolicy.Mode.TIMED, Duration.ofMinutes(10), null, Map.of()),
                "rot", new RoutingPolicy(RoutingPolicy.Mode.ROTATING, null, null, Map.of()),
                "man", new RoutingPolicy(RoutingPolicy.Mode.MANUAL, null, "e2", Map.of())), clock);
        UserParams tim = UserParams.parse("tim");
        Endpoint first = only(edges, r.decide(tim, edges));
        clock.advance(Duration.ofMinutes(9));
        assertThat(only(edges, r.decide(tim, edges))).isSameAs(first);
        clock.advance(Duration.ofMinutes(1));
        Endpoint second = only(edges, r.decide(tim, edges));
        assertThat(second).as("after 10 minutes, another edge").isNotSameAs(first);
        clock.advance(Duration.ofMinutes(5));
        assertThat(only(edges, r.decide(tim, edges))).as("timed routing does not end when idle").isSameAs(second);

        UserParams rot = UserParams.parse("rot");
        Endpoint last = only(edges, r.decide(rot, edges));
        for (int i = 0; i < 5; i++) {
            Endpoint next = only(edges, r.decide(rot, edges));
            assertThat(next).as("a new edge per connection").isNotSameAs(last);
            last = next;
        }
        for (int i = 0; i < 3; i++) {
            assertThat(edges.all.stream().filter(r.decide(UserParams.parse("man"), edges).eligible()).map(e -> e.labels().get("id")))
                    .containsExactly("e2");
        }
    }
}
