package dev.titan.core.scoring;

import dev.titan.core.config.ScoringConfig;

/**
 * The score state of one endpoint under seed 001's model. Not thread-safe: a cluster updates it
 * from its own control executor. Samples come from active probes and from real connections
 * (passive signals) alike.
 *
 * <ul>
 *   <li>latency: EWMA of samples; full {@code max_score} at or below {@code base_latency}, zero at
 *       or above {@code max_acceptable_latency}, linear in between;</li>
 *   <li>jitter: EWMA of |sample − latency EWMA before the sample|, scored the same way;</li>
 *   <li>success: EWMA of 1/0 per check, times {@code max_score};</li>
 *   <li>penalty: {@code min(base · factor^(n−1), max)} after the n-th consecutive failure, less
 *       {@code recovery_per_check} per success;</li>
 *   <li>bonus: +1 per {@code checks_per_point} consecutive successes, up to {@code max_bonus};</li>
 *   <li>final: clamp(latency + jitter + success − penalty + bonus, 0, max possible).</li>
 * </ul>
 * The first sample initialises each EWMA; an endpoint with no sample scores zero.
 */
public final class EndpointScore {
    private ScoringConfig config;
    private long checks;
    private double latencyMs = Double.NaN;
    private double jitterMs = Double.NaN;
    private double successRate = Double.NaN;
    private int consecutiveFailures;
    private long consecutiveSuccesses;
    private double penalty;

    public EndpointScore(ScoringConfig config) {
        this.config = config;
    }

    /** Applies a new scoring configuration (on reload) without losing history. */
    public void reconfigure(ScoringConfig config) {
        this.config = config;
    }

    public void recordSuccess(long latencyNanos) {
        double sample = latencyNanos / 1e6;
        if (Double.isNaN(latencyMs)) {
            latencyMs = sample;
        } else {
            double deviation = Math.abs(sample - latencyMs);
            jitterMs = ewma(jitterMs, deviation, config.jitter().ewmaAlpha());
            latencyMs = ewma(latencyMs, sample, config.latency().ewmaAlpha());
        }
        successRate = ewma(successRate, 1.0, config.successRate().ewmaAlpha());
        consecutiveFailures = 0;
        consecutiveSuccesses++;
        penalty = Math.max(0, penalty - config.failurePenalty().recoveryPerCheck());
        checks++;
    }

    public void recordFailure() {
        successRate = ewma(successRate, 0.0, config.successRate().ewmaAlpha());
        consecutiveFailures++;
        consecutiveSuccesses = 0;
        ScoringConfig.FailurePenalty p = config.failurePenalty();
        double fresh = Math.min(p.basePenalty() * Math.pow(p.exponentFactor(), consecutiveFailures - 1), p.maxPenalty());
        penalty = Math.max(penalty, fresh);
        checks++;
    }

    private static double ewma(double old, double sample, double alpha) {
        return Double.isNaN(old) ? sample : alpha * sample + (1 - alpha) * old;
    }

    public boolean hasSamples() {
        return checks > 0;
    }

    public long checks() {
        return checks;
    }

    public int consecutiveFailures() {
        return consecutiveFailures;
    }

    /** Smoothed latency in milliseconds, NaN before the first successful sample. */
    public double latencyMs() {
        return latencyMs;
    }

    public double jitterMs() {
        return Double.isNaN(jitterMs) ? (Double.isNaN(latencyMs) ? Double.NaN : 0) : jitterMs;
    }

    public double successRate() {
        return Double.isNaN(successRate) ? 0 : successRate;
    }

    public double latencyScore() {
        return Double.isNaN(latencyMs) ? 0 : linear(latencyMs, config.latency());
    }

    public double jitterScore() {
        return Double.isNaN(latencyMs) ? 0 : linear(jitterMs(), config.jitter());
    }

    public double successScore() {
        return successRate() * config.successRate().maxScore();
    }

    public double penalty() {
        return penalty;
    }

    public double bonus() {
        ScoringConfig.HistoricalBonus b = config.historicalBonus();
        return Math.min(b.maxBonus(), (double) (consecutiveSuccesses / b.checksPerPoint()));
    }

    public double score() {
        if (checks == 0) {
            return 0;
        }
        double raw = latencyScore() + jitterScore() + successScore() - penalty + bonus();
        return Math.max(0, Math.min(raw, config.maxPossible()));
    }

    static double linear(double valueMs, ScoringConfig.Component c) {
        double base = c.base().toNanos() / 1e6;
        double max = c.maxAcceptable().toNanos() / 1e6;
        if (valueMs <= base) {
            return c.maxScore();
        }
        if (valueMs >= max) {
            return 0;
        }
        return (max - valueMs) / (max - base) * c.maxScore();
    }

    /** A copy of the numbers behind the score, for the status view. */
    public Breakdown breakdown() {
        return new Breakdown(score(), latencyScore(), jitterScore(), successScore(), penalty, bonus(),
                latencyMs, jitterMs(), successRate(), consecutiveFailures, checks);
    }

    /** The score and its parts at one moment. */
    public record Breakdown(double score, double latencyScore, double jitterScore, double successScore,
                            double penalty, double bonus, double latencyMs, double jitterMs, double successRate,
                            int consecutiveFailures, long checks) {
    }
}
