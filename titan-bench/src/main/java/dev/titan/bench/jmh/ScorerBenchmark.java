package dev.titan.bench.jmh;

import dev.titan.core.config.ScoringConfig;
import dev.titan.core.scoring.EndpointScore;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** One probe result folded into an endpoint's score, and the score read back. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ScorerBenchmark {
    private final EndpointScore score = new EndpointScore(ScoringConfig.DEFAULT);
    private long i;

    @Benchmark
    public double updateAndScore() {
        i++;
        if ((i & 15) == 0) {
            score.recordFailure();
        } else {
            score.recordSuccess(1_000_000 + (i & 1023) * 10_000);
        }
        return score.score();
    }
}
