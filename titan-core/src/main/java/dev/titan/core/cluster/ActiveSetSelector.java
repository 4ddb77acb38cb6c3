package dev.titan.core.cluster;

import dev.titan.core.config.ClusterConfig;
import dev.titan.core.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.function.ToDoubleFunction;
import java.util.stream.Collectors;

/**
 * Seed 001's selector: rank endpoints by score, drop those below {@code min_score_threshold}, and
 * keep the top {@code active_set_size} as the active set. A healthy set is replaced only when
 * {@code debounce_interval} has passed since the last switch AND the new set's mean score beats
 * the current one by {@code score_improvement_threshold}. Two cases act at once, because debounce
 * is there to stop flapping between good sets, not to keep traffic on bad ones: a member that is
 * no longer eligible (below the threshold, ejected, or gone from the source) is replaced by the
 * best non-member while the healthy members stay, and vacancies (fewer members than
 * {@code active_set_size}) are filled the same way. Neither counts as a switch for debounce.
 */
public final class ActiveSetSelector {
    private final Clock clock;
    private ClusterConfig.Selector config;
    private List<Endpoint> active = List.of();
    private long lastSwitchNanos;
    private boolean everSwitched;
    private long switches;

    public ActiveSetSelector(ClusterConfig.Selector config, Clock clock) {
        this.config = config;
        this.clock = clock;
    }

    public void reconfigure(ClusterConfig.Selector config) {
        this.config = config;
    }

    public List<Endpoint> active() {
        return active;
    }

    public long switches() {
        return switches;
    }

    /**
     * Re-evaluates the active set from {@code candidates} (every known endpoint) and their current
     * {@code scores}; {@code eligible} says whether an endpoint may be in the set apart from its
     * score (not ejected, still in the source). Returns true if the set changed.
     */
    public boolean evaluate(List<Endpoint> candidates, ToDoubleFunction<Endpoint> scores,
                            java.util.function.Predicate<Endpoint> eligible) {
        long now = clock.nanos();
        List<Endpoint> ranked = candidates.stream()
                .filter(eligible)
                .filter(e -> scores.applyAsDouble(e) >= config.minScoreThreshold())
                .sorted(Comparator.comparingDouble(scores).reversed().thenComparing(Endpoint::id))
                .limit(config.activeSetSize())
                .toList();
        if (sameMembers(ranked, active)) {
            return false;
        }
        if (!everSwitched) {
            return switchTo(ranked, now);
        }
        boolean changed = false;
        List<Endpoint> kept = active.stream()
                .filter(eligible)
                .filter(e -> scores.applyAsDouble(e) >= config.minScoreThreshold())
                .filter(candidates::contains)
                .limit(config.activeSetSize())
                .toList();
        if (kept.size() < config.activeSetSize()) {
            // repair: keep the healthy members, give lost or empty seats to the best others
            List<Endpoint> repaired = new ArrayList<>(kept);
            Set<Endpoint> members = Set.copyOf(kept);
            for (Endpoint e : ranked) {
                if (repaired.size() >= config.activeSetSize()) {
                    break;
                }
                if (!members.contains(e)) {
                    repaired.add(e);
                }
            }
            if (!sameMembers(repaired, active)) {
                active = List.copyOf(repaired);
                switches++;
                changed = true;
            }
        }
        boolean debounced = now - lastSwitchNanos >= config.debounceInterval().toNanos();
        double gain = mean(ranked, scores) - mean(active, scores);
        if (debounced && gain >= config.scoreImprovementThreshold()) {
            changed |= switchTo(ranked, now);
        }
        return changed;
    }

    private boolean switchTo(List<Endpoint> next, long now) {
        if (sameMembers(next, active)) {
            return false;
        }
        active = List.copyOf(next);
        lastSwitchNanos = now;
        everSwitched = true;
        switches++;
        return true;
    }

    private static boolean sameMembers(List<Endpoint> a, List<Endpoint> b) {
        return a.size() == b.size() && Set.copyOf(a).equals(Set.copyOf(b));
    }

    private static double mean(List<Endpoint> set, ToDoubleFunction<Endpoint> scores) {
        return set.isEmpty() ? 0 : set.stream().mapToDouble(scores).average().orElse(0);
    }

    @Override
    public String toString() {
        return active.stream().map(Endpoint::id).collect(Collectors.joining(", ", "[", "]"));
    }
}
