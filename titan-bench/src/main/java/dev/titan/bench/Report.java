package dev.titan.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes the results into {@code docs/benchmarks.md} between the markers
 * {@code <!-- bench:results:begin -->} and {@code <!-- bench:results:end -->} (the hand-written
 * method around them stays), one SVG bar chart per scenario beside it, and the JSON.
 */
final class Report {
    static final String BEGIN = "<!-- bench:results:begin -->";
    static final String END = "<!-- bench:results:end -->";
    private static final List<String> ORDER = List.of("direct", "titan", "haproxy", "nginx-stream", "titan-tunnel", "ssh-R", "titan-overlay",
            "titan-overlay-by-source", "titan-overlay-0rtt-off", "titan-overlay-idle", "titan-overlay-bulk", "microsocks-login", "microsocks", "dante", "ssh-R-dynamic", "tinyproxy", "wrk",
            "titan-loadgen", "titan-loadgen-wrk-clock");
    private static final Map<String, String> COLOURS = Map.of("direct", "#9e9e9e", "titan", "#1565c0", "haproxy", "#ef6c00",
            "nginx-stream", "#2e7d32", "titan-tunnel", "#1565c0", "ssh-R", "#6a1b9a", "wrk", "#6d4c41", "titan-loadgen", "#1565c0",
            "titan-loadgen-wrk-clock", "#90caf9");

    /**
     * The ratios each table shows where both systems ran: Titan's forwarder, tunnel and overlay over
     * their peers (the overlay first over the peer with its handshake, login or none).
     */
    private static final List<String[]> PAIRS = List.of(new String[] {"titan", "haproxy"}, new String[] {"titan", "nginx-stream"},
            new String[] {"titan-tunnel", "direct"}, new String[] {"titan-tunnel", "ssh-R"}, new String[] {"titan-overlay", "direct"},
            new String[] {"titan-overlay", "microsocks-login"}, new String[] {"titan-overlay-by-source", "microsocks"},
            new String[] {"titan-overlay", "microsocks"}, new String[] {"titan-overlay", "dante"}, new String[] {"titan-overlay", "ssh-R-dynamic"},
            new String[] {"titan-overlay", "titan-overlay-0rtt-off"}, new String[] {"titan-overlay-bulk", "titan-overlay-idle"});

    private Report() {
    }

    @SuppressWarnings("unchecked")
    static void update(Path md, Map<String, Object> doc, Results results) throws IOException {
        Path chartDir = md.toAbsolutePath().getParent().resolve("bench");
        Files.createDirectories(chartDir);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(chartDir.resolve("latest.json").toFile(), doc);
        Map<String, String> machine = (Map<String, String>) doc.get("machine");
        StringBuilder sb = new StringBuilder();
        sb.append(BEGIN).append("\n\n");
        sb.append("Run of ").append(doc.get("date")).append(" — `bench/run --threads ").append(doc.get("threads"))
                .append("` (").append(doc.get("rounds")).append(" rounds of ").append(doc.get("seconds")).append(" s per system, alternating).\n\n");
        sb.append("| machine | |\n| --- | --- |\n");
        machine.forEach((k, v) -> sb.append("| ").append(k).append(" | ").append(v.replace("|", "/")).append(" |\n"));
        sb.append("\nEach cell is the median over the rounds, with the range [min–max]. Ratios are Titan's median over the peer's: ")
                .append("above 1 is better for throughput-like metrics, below 1 is better where the metric is marked *(lower is better)*.\n");
        inReadingOrder(results.raw()).forEach((scenario, metrics) -> {
            sb.append("\n### ").append(scenario).append("\n\n");
            Object from = ((Map<String, Object>) doc.getOrDefault("carried_over", Map.of())).get(scenario);
            if (from != null) {
                sb.append("*Not run this time: figures of the run of ").append(from).append(".*\n\n");
            }
            List<String> systems = new ArrayList<>();
            metrics.values().forEach(m -> m.keySet().forEach(s -> {
                if (!systems.contains(s)) {
                    systems.add(s);
                }
            }));
            systems.sort((a, b) -> Integer.compare(ORDER.indexOf(a), ORDER.indexOf(b)));
            // Titan against its peers: the forwarder against HAProxy and nginx, the tunnel against direct and ssh -R
            List<String[]> pairs = new ArrayList<>();
            for (String[] pair : PAIRS) {
                if (systems.contains(pair[0]) && systems.contains(pair[1])) {
                    pairs.add(pair);
                }
            }
            sb.append("| metric |");
            systems.forEach(sys -> sb.append(' ').append(sys).append(" |"));
            pairs.forEach(pair -> sb.append(' ').append(pair[0]).append(" ÷ ").append(pair[1]).append(" |"));
            sb.append("\n|---|").append("---|".repeat(systems.size() + pairs.size())).append('\n');
            metrics.forEach((metric, bySystem) -> {
                sb.append("| ").append(metric).append(Results.lowerIsBetter(metric) ? " *(lower is better)*" : "").append(" |");
                for (String sys : systems) {
                    List<Double> v = bySystem.get(sys);
                    sb.append(' ').append(v == null ? "–" : Results.fmt(Results.median(v)) + " [" + Results.fmt(Results.min(v)) + "–"
                            + Results.fmt(Results.max(v)) + "]").append(" |");
                }
                for (String[] pair : pairs) {
                    List<Double> t = bySystem.get(pair[0]);
                    List<Double> p = bySystem.get(pair[1]);
                    sb.append(' ').append(t == null || p == null ? "–" : Results.ratio(Results.median(t), Results.median(p))).append(" |");
                }
                sb.append('\n');
            });
            try {
                Files.writeString(chartDir.resolve(scenario + ".svg"), chart(scenario, metrics, systems));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            sb.append("\n![").append(scenario).append("](bench/").append(scenario).append(".svg)\n");
        });
        sb.append('\n').append(END);
        String text = Files.exists(md) ? Files.readString(md) : "# Benchmarks\n\n" + BEGIN + "\n" + END + "\n";
        int b = text.indexOf(BEGIN);
        int e = text.indexOf(END);
        if (b < 0 || e < 0) {
            text = text + "\n" + BEGIN + "\n" + END + "\n";
            b = text.indexOf(BEGIN);
            e = text.indexOf(END);
        }
        Files.writeString(md, text.substring(0, b) + sb + text.substring(e + END.length()));
    }

    /** The scenarios in the order they ran, each {@code X-warm-up} (recorded before X) right after X. */
    static <V> Map<String, V> inReadingOrder(Map<String, V> scenarios) {
        Map<String, V> out = new LinkedHashMap<>();
        scenarios.forEach((name, v) -> {
            if (!name.endsWith(WARM_UP) || !scenarios.containsKey(name.substring(0, name.length() - WARM_UP.length()))) {
                out.put(name, v);
            }
            V warmUp = scenarios.get(name + WARM_UP);
            if (warmUp != null) {
                out.put(name + WARM_UP, warmUp);
            }
        });
        return out;
    }

    static final String WARM_UP = "-warm-up";

    /** Horizontal bars: one group per metric, one bar per system, each scaled to the metric's largest median. */
    static String chart(String scenario, Map<String, Map<String, List<Double>>> metrics, List<String> systems) {
        int barH = 16;
        int gap = 10;
        int labelW = 200;
        int width = 760;
        int plotW = width - labelW - 110;
        int height = 40;
        for (Map<String, List<Double>> m : metrics.values()) {
            height += m.size() * barH + gap + 18;
        }
        height += 30;
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">%n",
                width, height));
        svg.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.append(String.format(Locale.ROOT, "<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">%s (median of rounds)</text>%n", scenario));
        int y = 40;
        for (Map.Entry<String, Map<String, List<Double>>> e : metrics.entrySet()) {
            String metric = e.getKey();
            double max = e.getValue().values().stream().mapToDouble(Results::median).filter(d -> !Double.isNaN(d)).max().orElse(1);
            svg.append(String.format(Locale.ROOT, "<text x=\"10\" y=\"%d\" font-weight=\"bold\">%s%s</text>%n", y + 12, metric,
                    Results.lowerIsBetter(metric) ? " (lower is better)" : ""));
            y += 18;
            for (String s : systems) {
                List<Double> v = e.getValue().get(s);
                if (v == null) {
                    continue;
                }
                double med = Results.median(v);
                int w = max <= 0 || Double.isNaN(med) ? 0 : (int) Math.round(plotW * med / max);
                svg.append(String.format(Locale.ROOT, "<text x=\"20\" y=\"%d\">%s</text>%n", y + 12, s));
                svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>%n", labelW, y, Math.max(1, w),
                        barH - 3, COLOURS.getOrDefault(s, "#555")));
                svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>%n", labelW + w + 6, y + 12, Results.fmt(med)));
                y += barH;
            }
            y += gap;
        }
        svg.append("</svg>\n");
        return svg.toString();
    }
}
