package dev.titan.core.scoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.titan.core.config.ScoringConfig;
import org.junit.jupiter.api.Test;

/** Pins seed 001's formulas to values computed by hand from the default configuration. */
class EndpointScoreTest {
    private static final double EPS = 1e-9;

    private static long ms(double v) {
        return (long) (v * 1_000_000);
    }

    @Test
    void unprobedEndpointScoresZero() {
        assertThat(new EndpointScore(ScoringConfig.DEFAULT).score()).isZero();
    }

    @Test
    void followsTheSeedFormulasSampleBySample() {
        EndpointScore s = new EndpointScore(ScoringConfig.DEFAULT);

        // 100 ms: latency (800-100)/(800-50)*45 = 42; no jitter yet -> 15; success 1*40; total 97
        s.recordSuccess(ms(100));
        assertThat(s.latencyScore()).isCloseTo(42.0, within(EPS));
        assertThat(s.jitterScore()).isCloseTo(15.0, within(EPS));
        assertThat(s.successScore()).isCloseTo(40.0, within(EPS));
        assertThat(s.score()).isCloseTo(97.0, within(EPS));

        // 200 ms: jitter sample |200-100| = 100 (first one initialises), latency 0.2*200+0.8*100 = 120
        s.recordSuccess(ms(200));
        assertThat(s.latencyMs()).isCloseTo(120.0, within(EPS));
        assertThat(s.jitterMs()).isCloseTo(100.0, within(EPS));
        assertThat(s.latencyScore()).isCloseTo(680.0 / 750 * 45, within(EPS));
        assertThat(s.jitterScore()).isCloseTo(200.0 / 290 * 15, within(EPS));
        assertThat(s.score()).isCloseTo(40.8 + 200.0 / 290 * 15 + 40, within(EPS));

        // failure: success 0.1*0+0.9*1 = 0.9 -> 36; penalty 5*1.8^0 = 5
        s.recordFailure();
        assertThat(s.successRate()).isCloseTo(0.9, within(EPS));
        assertThat(s.penalty()).isCloseTo(5.0, within(EPS));
        assertThat(s.score()).isCloseTo(40.8 + 200.0 / 290 * 15 + 36 - 5, within(EPS));

        // second failure: success 0.81 -> 32.4; penalty 5*1.8^1 = 9
        s.recordFailure();
        assertThat(s.penalty()).isCloseTo(9.0, within(EPS));
        assertThat(s.score()).isCloseTo(40.8 + 200.0 / 290 * 15 + 32.4 - 9, within(EPS));

        // 120 ms: jitter 0.3*|120-120| + 0.7*100 = 70; success 0.1+0.9*0.81 = 0.829; penalty 9-2.5 = 6.5
        s.recordSuccess(ms(120));
        assertThat(s.jitterMs()).isCloseTo(70.0, within(EPS));
        assertThat(s.successRate()).isCloseTo(0.829, within(EPS));
        assertThat(s.penalty()).isCloseTo(6.5, within(EPS));
        assertThat(s.score()).isCloseTo(40.8 + 230.0 / 290 * 15 + 33.16 - 6.5, within(EPS));
    }

    @Test
    void latencyIsFullAtBaseAndZeroAtMaxAcceptable() {
        EndpointScore fast = new EndpointScore(ScoringConfig.DEFAULT);
        fast.recordSuccess(ms(50));
        assertThat(fast.latencyScore()).isEqualTo(45.0);
        EndpointScore slow = new EndpointScore(ScoringConfig.DEFAULT);
        slow.recordSuccess(ms(800));
        assertThat(slow.latencyScore()).isZero();
        EndpointScore slower = new EndpointScore(ScoringConfig.DEFAULT);
        slower.recordSuccess(ms(5000));
        assertThat(slower.latencyScore()).isZero();
    }

    @Test
    void penaltyGrowsExponentiallyUpToItsCapAndRecoversPerSuccess() {
        EndpointScore s = new EndpointScore(ScoringConfig.DEFAULT);
        s.recordSuccess(ms(10));
        double[] expected = {5, 9, 16.2, 29.16, 52.488, 80, 80};
        for (double e : expected) {
            s.recordFailure();
            assertThat(s.penalty()).as("penalty after %d failures", s.consecutiveFailures()).isCloseTo(e, within(1e-9));
        }
        s.recordSuccess(ms(10));
        assertThat(s.penalty()).isCloseTo(77.5, within(EPS));
        assertThat(s.consecutiveFailures()).isZero();
        assertThat(s.score()).as("clamped at zero").isGreaterThanOrEqualTo(0);
    }

    @Test
    void bonusIsOnePointPerRunOfSuccessesUpToTheMaximum() {
        ScoringConfig d = ScoringConfig.DEFAULT;
        ScoringConfig c = new ScoringConfig(d.weights(), d.latency(), d.jitter(), d.successRate(), d.failurePenalty(),
                new ScoringConfig.HistoricalBonus(3.0, 2));
        EndpointScore s = new EndpointScore(c);
        for (int i = 0; i < 5; i++) {
            s.recordSuccess(ms(10));
        }
        assertThat(s.bonus()).isEqualTo(2.0);
        s.recordSuccess(ms(10));
        s.recordSuccess(ms(10));
        s.recordSuccess(ms(10));
        assertThat(s.bonus()).as("capped at max_bonus").isEqualTo(3.0);
        assertThat(s.score()).as("clamped to the maximum possible").isEqualTo(c.maxPossible());
        s.recordFailure();
        assertThat(s.bonus()).as("a failure ends the run").isZero();
    }

    @Test
    void defaultBonusNeeds120ConsecutiveSuccessesPerPoint() {
        EndpointScore s = new EndpointScore(ScoringConfig.DEFAULT);
        for (int i = 0; i < 119; i++) {
            s.recordSuccess(ms(10));
        }
        assertThat(s.bonus()).isZero();
        s.recordSuccess(ms(10));
        assertThat(s.bonus()).isEqualTo(1.0);
        assertThat(s.score()).isEqualTo(101.0);
    }
}
