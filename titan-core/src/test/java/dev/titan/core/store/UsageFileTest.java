package dev.titan.core.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Usage counters survive a restart through the file, and a crash loses at most one write interval. */
class UsageFileTest {
    @TempDir
    Path dir;

    @Test
    void countersSurviveARestartSectionBySection() throws Exception {
        Path file = dir.resolve("state/usage.json");
        ConfigStore users = new ConfigStore(List.of());
        ConfigStore edges = new ConfigStore(List.of());
        try (UsageFile f = UsageFile.open(file, Map.of("users", users, "edges", edges), Duration.ofHours(1))) {
            users.usage("alice").bytesIn.add(1000);
            users.usage("alice").bytesOut.add(5000);
            users.usage("alice").connections.add(3);
            users.usage("alice").addToPeriod("2026-12", 6000);
            edges.usage("e1").bytesOut.add(42);
        } // close writes
        ConfigStore users2 = new ConfigStore(List.of());
        ConfigStore edges2 = new ConfigStore(List.of());
        try (UsageFile f = UsageFile.open(file, Map.of("users", users2, "edges", edges2), Duration.ofHours(1))) {
            Store.Usage a = users2.usage("alice");
            assertThat(a.bytesIn.sum()).isEqualTo(1000);
            assertThat(a.bytesOut.sum()).isEqualTo(5000);
            assertThat(a.connections.sum()).isEqualTo(3);
            assertThat(a.inPeriod("2026-12")).as("the quota's period goes on").isEqualTo(6000);
            assertThat(a.inPeriod("2027-01")).isZero();
            assertThat(edges2.usage("e1").bytesOut.sum()).isEqualTo(42);
            assertThat(users2.usageById()).doesNotContainKey("e1");
        }
    }

    @Test
    void withoutACloseTheLastPeriodicWriteIsWhatSurvives() throws Exception {
        Path file = dir.resolve("usage.json");
        ConfigStore users = new ConfigStore(List.of());
        UsageFile f = UsageFile.open(file, Map.of("users", users), Duration.ofMillis(100));
        users.usage("bob").bytesIn.add(777);
        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while ((!Files.exists(file) || !Files.readString(file).contains("777")) && System.nanoTime() < end) {
            Thread.sleep(20);
        }
        assertThat(Files.readString(file)).as("written within an interval, without a close").contains("777");
        f.close();
    }

    @Test
    void aFileThatIsNotJsonIsRefusedWithItsName() throws Exception {
        Path file = dir.resolve("usage.json");
        Files.writeString(file, "{ not json");
        assertThatThrownBy(() -> UsageFile.open(file, Map.of("users", new ConfigStore(List.of())), Duration.ofSeconds(1)))
                .isInstanceOf(IOException.class).hasMessageContaining(file.toString()).hasMessageContaining("not readable JSON");
    }
}
