package dev.titan.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {

    @Test
    void aWarmUpCurveIsPublishedRightAfterItsScenarioThoughItWasRecordedFirst() {
        Map<String, Integer> ran = new LinkedHashMap<>();
        ran.put("l4-rps-warm-up", 1);
        ran.put("l4-rps", 2);
        ran.put("tunnel-rps-warm-up", 3);
        ran.put("startup", 4);
        ran.put("tunnel-rps", 5);

        assertThat(Report.inReadingOrder(ran).keySet())
                .containsExactly("l4-rps", "l4-rps-warm-up", "startup", "tunnel-rps", "tunnel-rps-warm-up");
    }

    @Test
    void aWarmUpCurveWhoseScenarioFailedStillAppears() {
        Map<String, Integer> ran = new LinkedHashMap<>();
        ran.put("tunnel-rps-warm-up", 1);
        ran.put("startup", 2);

        assertThat(Report.inReadingOrder(ran).keySet()).containsExactly("tunnel-rps-warm-up", "startup");
    }

    @Test
    void theDocumentListsTheCurveAfterItsScenario(@TempDir Path dir) throws Exception {
        Results results = new Results();
        results.add("tunnel-rps-warm-up", "0-10 s p99_ms", "titan-tunnel", 19.4);
        results.add("tunnel-rps", "p99_ms", "titan-tunnel", 4.2);
        results.add("tunnel-rps", "p99_ms", "ssh-R", 46.9);
        Path md = dir.resolve("benchmarks.md");
        Map<String, Object> doc = new LinkedHashMap<>(Map.of("date", "2026-11-22", "threads", 1, "rounds", 3, "seconds", 10,
                "machine", Map.of("cpu", "test")));

        Report.update(md, doc, results);

        String text = Files.readString(md);
        assertThat(text.indexOf("### tunnel-rps\n")).isPositive().isLessThan(text.indexOf("### tunnel-rps-warm-up"));
        assertThat(text).contains("| 0-10 s p99_ms *(lower is better)* | 19.4 [19.4–19.4] |");
        assertThat(dir.resolve("bench/tunnel-rps-warm-up.svg")).exists();
    }
}
