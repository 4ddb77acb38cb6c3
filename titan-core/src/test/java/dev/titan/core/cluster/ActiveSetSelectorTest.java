package dev.titan.core.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.titan.core.config.ClusterConfig;
import dev.titan.core.config.ScoringConfig;
import dev.titan.core.testing.FakeClock;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Seed 001's selector with debounce, on a fake clock. */
class ActiveSetSelectorTest {
    private final FakeClock clock = new FakeClock();
    private final Map<Endpoint, Double> scores = new HashMap<>();
    private final Set<Endpoint> ejected = new HashSet<>();
    private final Endpoint a = ep(1);
    private final Endpoint b = ep(2);
    private final Endpoint c = ep(3);
    private final Endpoint d = ep(4);
    private final List<Endpoint> all = List.of(a, b, c, d);
    private ActiveSetSelector selector;

    private static Endpoint ep(int i) {
        return new Endpoint(new InetSocketAddress("10.0.0." + i, 80), 1, ScoringConfig.DEFAULT);
    }

    @BeforeEach
    void setUp() {
        // the seed's defaults: 3 members, threshold 15, debounce 1m, improvement 5
        selector = new ActiveSetSelector(new ClusterConfig.Selector(Duration.ofSeconds(30), 3, 15.0, Duration.ofMinutes(1), 5.0), clock);
        scores.putAll(Map.of(a, 90.0, b, 80.0, c, 70.0, d, 10.0));
    }

    private boolean evaluate() {
        return selector.evaluate(all, e -> scores.get(e), e -> !ejected.contains(e));
    }

    @Test
    void firstEvaluationTakesTheTopNAboveTheThreshold() {
        assertThat(evaluate()).isTrue();
        assertThat(selector.active()).containsExactlyInAnyOrder(a, b, c);
    }

    @Test
    void endpointsBelowTheThresholdNeverJoin() {
        scores.put(b, 14.9);
        scores.put(c, 5.0);
        evaluate();
        assertThat(selector.active()).containsExactly(a);
    }

    @Test
    void aBetterSetWaitsForTheDebounceInterval() {
        evaluate();
        scores.put(d, 95.0); // new set {d,a,b} mean 88.3 vs current 80: +8.3
        clock.advance(Duration.ofSeconds(59));
        assertThat(evaluate()).as("inside the debounce interval").isFalse();
        assertThat(selector.active()).containsExactlyInAnyOrder(a, b, c);
        clock.advance(Duration.ofSeconds(1));
        assertThat(evaluate()).as("debounce passed and the gain beats the threshold").isTrue();
        assertThat(selector.active()).containsExactlyInAnyOrder(d, a, b);
    }

    @Test
    void aSmallImprovementDoesNotSwitchEvenAfterDebounce() {
        evaluate();
        scores.put(d, 80.0); // {a,b,d} mean 83.3 vs 80: +3.3 < 5
        clock.advance(Duration.ofMinutes(5));
        assertThat(evaluate()).isFalse();
        assertThat(selector.active()).containsExactlyInAnyOrder(a, b, c);
        scores.put(d, 85.0); // +5.0 exactly: switches
        assertThat(evaluate()).isTrue();
        assertThat(selector.active()).contains(d);
    }

    @Test
    void aMemberThatFailsIsReplacedAtOnceAndTheOthersStay() {
        evaluate();
        clock.advance(Duration.ofSeconds(5));
        scores.put(c, 3.0);
        scores.put(d, 50.0);
        assertThat(evaluate()).as("no debounce for a member below the threshold").isTrue();
        assertThat(selector.active()).containsExactlyInAnyOrder(a, b, d);
    }

    @Test
    void anEjectedMemberIsReplacedAtOnce() {
        scores.put(d, 60.0);
        evaluate();
        clock.advance(Duration.ofSeconds(1));
        ejected.add(a);
        assertThat(evaluate()).isTrue();
        assertThat(selector.active()).containsExactlyInAnyOrder(b, c, d);
    }

    @Test
    void aRepairDoesNotRestartTheDebounceInterval() {
        evaluate();
        clock.advance(Duration.ofSeconds(50));
        scores.put(c, 0.0);
        scores.put(d, 20.0);
        evaluate(); // repair: {a,b,d}
        clock.advance(Duration.ofSeconds(10)); // 60 s since the first switch
        scores.put(c, 99.0); // {c,a,b} 89.7 vs {a,b,d} 63.3
        assertThat(evaluate()).isTrue();
        assertThat(selector.active()).containsExactlyInAnyOrder(a, b, c);
    }

    @Test
    void vacanciesAreFilledWithoutWaiting() {
        scores.put(b, 1.0);
        scores.put(c, 1.0);
        evaluate();
        assertThat(selector.active()).containsExactly(a);
        scores.put(c, 40.0);
        clock.advance(Duration.ofSeconds(1));
        assertThat(evaluate()).isTrue();
        assertThat(selector.active()).containsExactlyInAnyOrder(a, c);
    }
}
