package dev.titan.core.balance;

import static org.assertj.core.api.Assertions.assertThat;

import dev.titan.core.cluster.Endpoint;
import dev.titan.core.config.ClusterConfig;
import dev.titan.core.config.ScoringConfig;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** Each balancer's promise, checked on its own. */
class BalancerTest {
    private static Endpoint ep(int i, int weight) {
        return new Endpoint(new InetSocketAddress("10.0." + (i / 250) + "." + (i % 250 + 1), 80), weight, ScoringConfig.DEFAULT);
    }

    private static List<Endpoint> eps(int n) {
        return IntStream.range(0, n).mapToObj(i -> ep(i, 1)).toList();
    }

    private static Balancer create(String algorithm) {
        return Balancer.create(new ClusterConfig.Balancer(algorithm, 160));
    }

    private static PickContext ctx(long key) {
        return new PickContext(key, Set.of(), System.nanoTime());
    }

    private static Map<Endpoint, Integer> count(Balancer b, List<Endpoint> c, int picks) {
        Map<Endpoint, Integer> m = new HashMap<>();
        for (int i = 0; i < picks; i++) {
            m.merge(b.pick(c, ctx(Hashing.mix(i))), 1, Integer::sum);
        }
        return m;
    }

    static List<String> algorithms() {
        return ClusterConfig.Balancer.ALGORITHMS;
    }

    @ParameterizedTest
    @MethodSource("algorithms")
    void neverPicksAnExcludedEndpointAndGivesNullWhenAllAreExcluded(String algorithm) {
        Balancer b = create(algorithm);
        List<Endpoint> c = eps(3);
        for (int i = 0; i < 200; i++) {
            Endpoint e = b.pick(c, new PickContext(Hashing.mix(i), Set.of(c.get(0)), System.nanoTime()));
            assertThat(e).isNotNull().isNotEqualTo(c.get(0));
        }
        assertThat(b.pick(c, new PickContext(1, Set.copyOf(c), System.nanoTime()))).isNull();
        assertThat(b.pick(List.of(), ctx(1))).isNull();
    }

    @Test
    void roundRobinTakesEachInTurn() {
        List<Endpoint> c = eps(3);
        assertThat(count(create("round_robin"), c, 300).values()).containsOnly(100);
    }

    @Test
    void randomSpreadsEvenly() {
        List<Endpoint> c = eps(3);
        assertThat(count(create("random"), c, 30_000).values()).allSatisfy(n -> assertThat(n).isBetween(9_000, 11_000));
    }

    @Test
    void leastConnectionsPicksTheLeastLoaded() {
        List<Endpoint> c = eps(3);
        c.get(0).connectionOpened();
        c.get(0).connectionOpened();
        c.get(2).connectionOpened();
        Balancer b = create("least_connections");
        for (int i = 0; i < 50; i++) {
            assertThat(b.pick(c, ctx(i))).isEqualTo(c.get(1));
        }
        // ties are spread, not always the first
        c.get(1).connectionOpened();
        assertThat(count(b, c, 300).keySet()).containsExactlyInAnyOrder(c.get(1), c.get(2));
    }

    @Test
    void leastConnectionsWeightComparesLoadPerWeight() {
        Endpoint light = ep(1, 1);
        Endpoint heavy = ep(2, 4);
        List<Endpoint> c = List.of(light, heavy);
        Balancer b = create("least_connections_weight");
        // fill like a real load: every pick opens a connection
        for (int i = 0; i < 50; i++) {
            b.pick(c, ctx(i)).connectionOpened();
        }
        assertThat(heavy.activeConnections()).isEqualTo(40);
        assertThat(light.activeConnections()).isEqualTo(10);
    }

    @Test
    void weightedGivesEachItsWeightSmoothly() {
        List<Endpoint> c = List.of(ep(1, 5), ep(2, 1), ep(3, 1));
        Balancer b = create("weighted");
        List<Endpoint> seq = new ArrayList<>();
        for (int i = 0; i < 700; i++) {
            seq.add(b.pick(c, ctx(i)));
        }
        assertThat(seq.stream().filter(e -> e == c.get(0)).count()).isEqualTo(500);
        assertThat(seq.stream().filter(e -> e == c.get(1)).count()).isEqualTo(100);
        // smooth: the heavy endpoint never gets more than 4 picks in a row (nginx's sequence is a a b a c a a)
        int run = 0;
        int maxRun = 0;
        for (Endpoint e : seq) {
            run = e == c.get(0) ? run + 1 : 0;
            maxRun = Math.max(maxRun, run);
        }
        assertThat(maxRun).isLessThanOrEqualTo(4);
    }

    @ParameterizedTest
    @MethodSource("hashing")
    void hashBalancersAreStickyAndSpread(String algorithm) {
        List<Endpoint> c = eps(5);
        Balancer b = create(algorithm);
        Map<Endpoint, Integer> spread = new HashMap<>();
        for (long key = 0; key < 5000; key++) {
            long k = Hashing.mix(key);
            Endpoint first = b.pick(c, ctx(k));
            assertThat(b.pick(c, ctx(k))).as("same key, same endpoint").isEqualTo(first);
            spread.merge(first, 1, Integer::sum);
        }
        assertThat(spread).hasSize(5);
        assertThat(spread.values()).allSatisfy(n -> assertThat(n).as("roughly even").isBetween(500, 1500));
    }

    static List<String> hashing() {
        return List.of("ip_hash", "consistent_hash");
    }

    @Test
    void consistentHashMovesOnlyTheKeysOfARemovedEndpoint() {
        List<Endpoint> before = eps(10);
        List<Endpoint> after = new ArrayList<>(before);
        Endpoint gone = after.remove(3);
        List<Endpoint> remaining = List.copyOf(after);
        Balancer b = create("consistent_hash");
        int moved = 0;
        int keys = 20_000;
        Endpoint[] owners = new Endpoint[keys];
        for (int key = 0; key < keys; key++) {
            owners[key] = b.pick(before, ctx(Hashing.mix(key)));
        }
        for (int key = 0; key < keys; key++) {
            Endpoint was = owners[key];
            Endpoint now = b.pick(remaining, ctx(Hashing.mix(key)));
            if (was != gone) {
                assertThat(now).as("a key whose endpoint stayed keeps it").isEqualTo(was);
            } else {
                moved++;
            }
        }
        assertThat((double) moved / keys).as("about 1/10 of the keys move").isBetween(0.06, 0.14);
    }

    @Test
    void ipHashRemapsMoreThanConsistentHashWhenAnEndpointLeaves() {
        // documents why consistent_hash exists: modulo hashing moves most keys
        List<Endpoint> before = eps(10);
        List<Endpoint> after = new ArrayList<>(before);
        after.remove(3);
        List<Endpoint> remaining = List.copyOf(after);
        Balancer b = create("ip_hash");
        int moved = 0;
        Endpoint[] owners = new Endpoint[10_000];
        for (int key = 0; key < owners.length; key++) {
            owners[key] = b.pick(before, ctx(Hashing.mix(key)));
        }
        for (int key = 0; key < owners.length; key++) {
            if (owners[key] != b.pick(remaining, ctx(Hashing.mix(key)))) {
                moved++;
            }
        }
        assertThat(moved).isGreaterThan(5_000);
    }

    @Test
    void peakEwmaAvoidsTheSlowEndpoint() {
        Endpoint slow = ep(1, 1);
        Endpoint fast = ep(2, 1);
        long now = System.nanoTime();
        slow.recordLatencySample(50_000_000, now);
        fast.recordLatencySample(1_000_000, now);
        Map<Endpoint, Integer> m = count(create("p2c_peak_ewma"), List.of(slow, fast), 1000);
        assertThat(m.getOrDefault(fast, 0)).isGreaterThan(950);
    }

    @Test
    void peakEwmaWeighsLoadAgainstLatency() {
        Endpoint a = ep(1, 1);
        Endpoint b = ep(2, 1);
        long now = System.nanoTime();
        a.recordLatencySample(1_000_000, now);
        b.recordLatencySample(2_000_000, now);
        for (int i = 0; i < 5; i++) {
            a.connectionOpened(); // a: 1 ms x 6 = 6 > b: 2 ms x 1 = 2
        }
        assertThat(create("p2c_peak_ewma").pick(List.of(a, b), ctx(0))).isEqualTo(b);
    }

    @Test
    void peakEwmaTakesAWorseSampleAtOnceAndDecaysAfterwards() {
        Endpoint e = ep(1, 1);
        long t = 1_000_000_000L;
        e.recordLatencySample(1_000_000, t);
        e.recordLatencySample(100_000_000, t + 1);
        assertThat(e.peakEwmaNanos(t + 1)).isEqualTo(100_000_000);
        assertThat(e.peakEwmaNanos(t + 10_000_000_000L)).as("one time constant later").isBetween(36e6, 37e6);
    }
}
