package dev.titan.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Samples by scenario, metric and system; medians, spreads and ratios. */
final class Results {
    private final Map<String, Map<String, Map<String, List<Double>>>> data = new LinkedHashMap<>();

    void add(String scenario, String metric, String system, double value) {
        data.computeIfAbsent(scenario, k -> new LinkedHashMap<>())
                .computeIfAbsent(metric, k -> new LinkedHashMap<>())
                .computeIfAbsent(system, k -> new ArrayList<>()).add(value);
    }

    Map<String, Map<String, Map<String, List<Double>>>> raw() {
        return data;
    }

    static double median(List<Double> v) {
        List<Double> s = v.stream().filter(d -> !d.isNaN()).sorted().toList();
        if (s.isEmpty()) {
            return Double.NaN;
        }
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    static double min(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }

    static double max(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    }

    /** Metrics where less is better (latency, memory, time, errors). */
    static boolean lowerIsBetter(String metric) {
        return metric.contains("_ms") || metric.contains("kib") || metric.contains("rss") || metric.contains("cpu") || metric.equals("errors");
    }

    Map<String, Object> asMap() {
        Map<String, Object> out = new LinkedHashMap<>();
        data.forEach((scenario, metrics) -> {
            Map<String, Object> sm = new LinkedHashMap<>();
            metrics.forEach((metric, systems) -> {
                Map<String, Object> mm = new LinkedHashMap<>();
                systems.forEach((system, v) -> mm.put(system, Map.of("median", median(v), "min", min(v), "max", max(v), "samples", v)));
                sm.put(metric, mm);
            });
            out.put(scenario, sm);
        });
        return out;
    }

    /** {@code a / b} with two decimals, or "–" when there is no ratio to state (0 / 0, or a missing side). */
    static String ratio(double a, double b) {
        double r = a / b;
        return Double.isNaN(r) || Double.isInfinite(r) ? "–" : String.format(Locale.ROOT, "%.2f", r);
    }

    static String fmt(double v) {
        if (Double.isNaN(v)) {
            return "–";
        }
        double a = Math.abs(v);
        return String.format(Locale.ROOT, a >= 1000 ? "%,.0f" : a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3f", v);
    }

    void print(String scenario) {
        Map<String, Map<String, List<Double>>> metrics = data.get(scenario);
        if (metrics == null) {
            return;
        }
        for (Map.Entry<String, Map<String, List<Double>>> e : metrics.entrySet()) {
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "  %-18s", e.getKey()));
            Map<String, List<Double>> sys = e.getValue();
            sys.forEach((name, v) -> sb.append(String.format(Locale.ROOT, " %s %s [%s–%s]", name, fmt(median(v)), fmt(min(v)), fmt(max(v)))));
            List<Double> titan = sys.get("titan");
            if (titan != null) {
                for (String peer : List.of("haproxy", "nginx-stream")) {
                    if (sys.containsKey(peer)) {
                        sb.append(" | titan/").append(peer).append(' ').append(ratio(median(titan), median(sys.get(peer))));
                    }
                }
            }
            System.out.println(sb);
        }
    }
}
