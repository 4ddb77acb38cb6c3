package dev.titan.bench.jmh;

import dev.titan.core.balance.Balancer;
import dev.titan.core.balance.Hashing;
import dev.titan.core.balance.PickContext;
import dev.titan.core.cluster.Endpoint;
import dev.titan.core.config.ClusterConfig;
import dev.titan.core.config.ScoringConfig;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** One pick by each balancer over 3, 100 and 10,000 candidates. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class BalancerBenchmark {
    @Param({"round_robin", "random", "least_connections", "least_connections_weight", "weighted", "ip_hash", "consistent_hash",
            "p2c_peak_ewma"})
    public String algorithm;

    @Param({"3", "100", "10000"})
    public int endpoints;

    private Balancer balancer;
    private List<Endpoint> candidates;
    private long key;
    private long now;

    @Setup
    public void setUp() throws UnknownHostException {
        balancer = Balancer.create(new ClusterConfig.Balancer(algorithm, 160));
        List<Endpoint> list = new ArrayList<>();
        now = System.nanoTime();
        for (int i = 0; i < endpoints; i++) {
            byte[] ip = {10, (byte) (i >> 16), (byte) (i >> 8), (byte) i};
            Endpoint e = new Endpoint(new InetSocketAddress(InetAddress.getByAddress(ip), 80), 1 + i % 5, ScoringConfig.DEFAULT);
            e.recordLatencySample(1_000_000 + i * 1000L, now);
            for (int c = 0; c < i % 7; c++) {
                e.connectionOpened();
            }
            list.add(e);
        }
        candidates = List.copyOf(list);
        balancer.pick(candidates, new PickContext(1, Set.of(), now)); // builds caches (ring, order)
    }

    @Benchmark
    public Endpoint pick() {
        key = Hashing.mix(key + 1);
        return balancer.pick(candidates, new PickContext(key, Set.of(), now));
    }
}
