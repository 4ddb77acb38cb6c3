package dev.titan.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Runs {@code wrk} (one thread, closed loop) and reads its output: req/s (or conn/s), latency, errors. */
final class Wrk {
    private Wrk() {
    }

    /**
     * {@code connections} connections to {@code port} for {@code secs} seconds, pinned to
     * {@code cpus} (null: where the runner is), with {@code Connection: close} if {@code close}
     * and the {@code host} header if not null.
     */
    static Map<String, Double> run(String cpus, int port, int connections, int secs, boolean close, String host) throws Exception {
        List<String> cmd = new ArrayList<>();
        if (cpus != null) {
            cmd.addAll(List.of("taskset", "-c", cpus));
        }
        cmd.addAll(List.of("wrk", "-t1", "-c" + connections, "-d" + secs + "s", "--latency"));
        if (close) {
            cmd.addAll(List.of("-H", "Connection: close"));
        }
        if (host != null) {
            cmd.addAll(List.of("-H", "Host: " + host));
        }
        cmd.add("http://127.0.0.1:" + port + "/");
        String text = Proc.run(cmd, secs + 60L);
        Map<String, Double> v = new LinkedHashMap<>();
        v.put(close ? "conn_per_s" : "req_per_s", number(text, "Requests/sec:\\s+([\\d.]+)"));
        v.put("mean_ms", latency(text, "Latency"));
        v.put("p50_ms", latency(text, "50%"));
        v.put("p99_ms", latency(text, "99%"));
        double errors = 0;
        Matcher m = Pattern.compile("Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)").matcher(text);
        if (m.find()) {
            errors = Double.parseDouble(m.group(1)) + Double.parseDouble(m.group(2)) + Double.parseDouble(m.group(3)) + Double.parseDouble(m.group(4));
        }
        Matcher non2xx = Pattern.compile("Non-2xx or 3xx responses: (\\d+)").matcher(text);
        if (non2xx.find()) {
            errors += Double.parseDouble(non2xx.group(1));
        }
        v.put("errors", errors);
        return v;
    }

    static double number(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        if (!m.find()) {
            throw new IllegalStateException("no match for " + regex + " in:\n" + text);
        }
        return Double.parseDouble(m.group(1));
    }

    /** A latency from wrk's output in ms: {@code pct} such as "50%", or "Latency" for the mean (the first column of that line). */
    static double latency(String text, String pct) {
        Matcher m = Pattern.compile("\\s" + Pattern.quote(pct) + "\\s+([\\d.]+)(us|ms|s)").matcher(text);
        if (!m.find()) {
            return Double.NaN;
        }
        double v = Double.parseDouble(m.group(1));
        return switch (m.group(2)) {
            case "us" -> v / 1000;
            case "s" -> v * 1000;
            default -> v;
        };
    }
}
