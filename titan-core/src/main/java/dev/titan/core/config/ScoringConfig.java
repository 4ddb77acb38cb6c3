package dev.titan.core.config;

import dev.titan.core.config.ConfigNode.Range;
import java.time.Duration;

/** Seed 001's scoring model parameters; the defaults are the seed's. */
public record ScoringConfig(
        Weights weights,
        Component latency,
        Component jitter,
        SuccessRate successRate,
        FailurePenalty failurePenalty,
        HistoricalBonus historicalBonus) {

    public static final ScoringConfig DEFAULT = new ScoringConfig(
            new Weights(0.45, 0.15, 0.40),
            new Component(45.0, 0.2, Duration.ofMillis(50), Duration.ofMillis(800)),
            new Component(15.0, 0.3, Duration.ofMillis(10), Duration.ofMillis(300)),
            new SuccessRate(40.0, 0.1),
            new FailurePenalty(5.0, 1.8, 80.0, 2.5),
            new HistoricalBonus(10.0, 120));

    /**
     * Seed 001 keeps these for documentation only ("used to derive max_score; max_score is used
     * directly"); Titan validates and reports them but scores with the max_score values.
     */
    public record Weights(double latency, double jitter, double successRate) {
    }

    /** A latency-shaped component: full score at or below {@code base}, zero at or above {@code maxAcceptable}. */
    public record Component(double maxScore, double ewmaAlpha, Duration base, Duration maxAcceptable) {
    }

    public record SuccessRate(double maxScore, double ewmaAlpha) {
    }

    public record FailurePenalty(double basePenalty, double exponentFactor, double maxPenalty, double recoveryPerCheck) {
    }

    public record HistoricalBonus(double maxBonus, int checksPerPoint) {
    }

    /** The highest score an endpoint can reach: every component at its maximum plus the full bonus. */
    public double maxPossible() {
        return latency.maxScore() + jitter.maxScore() + successRate.maxScore() + historicalBonus.maxBonus();
    }

    static ScoringConfig read(ConfigNode n) {
        ScoringConfig d = DEFAULT;
        ConfigNode w = n.child("weights");
        Weights weights = new Weights(
                w.decimal("latency", d.weights.latency, Range.closed(0, 1)),
                w.decimal("jitter", d.weights.jitter, Range.closed(0, 1)),
                w.decimal("success_rate", d.weights.successRate, Range.closed(0, 1)));
        w.finish();
        Component latency = component(n.child("latency"), d.latency, "latency");
        Component jitter = component(n.child("jitter"), d.jitter, "jitter");
        ConfigNode s = n.child("success_rate");
        SuccessRate success = new SuccessRate(
                s.decimal("max_score", d.successRate.maxScore, Range.atLeast(0)),
                s.decimal("ewma_alpha", d.successRate.ewmaAlpha, Range.openClosed(0, 1)));
        s.finish();
        ConfigNode p = n.child("failure_penalty");
        FailurePenalty penalty = new FailurePenalty(
                p.decimal("base_penalty", d.failurePenalty.basePenalty, Range.atLeast(0)),
                p.decimal("exponent_factor", d.failurePenalty.exponentFactor, Range.atLeast(1)),
                p.decimal("max_penalty", d.failurePenalty.maxPenalty, Range.atLeast(0)),
                p.decimal("recovery_per_check", d.failurePenalty.recoveryPerCheck, Range.atLeast(0)));
        p.finish();
        ConfigNode b = n.child("historical_bonus");
        HistoricalBonus bonus = new HistoricalBonus(
                b.decimal("max_bonus", d.historicalBonus.maxBonus, Range.atLeast(0)),
                b.integer("checks_per_point", d.historicalBonus.checksPerPoint, 1, 1_000_000));
        b.finish();
        n.finish();
        return new ScoringConfig(weights, latency, jitter, success, penalty, bonus);
    }

    private static Component component(ConfigNode n, Component d, String name) {
        double max = n.decimal("max_score", d.maxScore, Range.atLeast(0));
        double alpha = n.decimal("ewma_alpha", d.ewmaAlpha, Range.openClosed(0, 1));
        Duration base = n.duration("base_" + name, d.base, Duration.ZERO);
        Duration worst = n.duration("max_acceptable_" + name, d.maxAcceptable, Duration.ZERO);
        if (worst.compareTo(base) <= 0) {
            n.problem("max_acceptable_" + name, "must be greater than base_" + name
                    + " (" + Durations.format(base) + "), got " + Durations.format(worst));
            worst = base.plusMillis(1);
        }
        n.finish();
        return new Component(max, alpha, base, worst);
    }
}
