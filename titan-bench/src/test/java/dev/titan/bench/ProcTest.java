package dev.titan.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcTest {

    @Test
    void cpuTimeCountsWhatTheProcessAndItsChildrenBurnedAndNothingWhileIdle(@TempDir Path dir) throws Exception {
        // a shell whose child spins (counting, no subprocess) until the test ends it; the child's command name holds a space and a
        // parenthesis, as /proc/<pid>/stat shows it between parentheses
        Path odd = dir.resolve("spin (x) y");
        Files.copy(Path.of("/bin/sh"), odd);
        odd.toFile().setExecutable(true);
        Path script = Files.writeString(dir.resolve("spin.sh"), "i=0; while [ $i -lt 50000000 ]; do i=$((i+1)); done\n");
        try (Proc spinner = Proc.start("spin", null, dir.resolve("spin.log"),
                     List.of("sh", "-c", "\"$0\" \"$1\" & wait", odd.toString(), script.toString()));
             Proc sleeper = Proc.start("sleep", null, dir.resolve("sleep.log"), List.of("sleep", "10"))) {
            long spin0 = Proc.cpuTicks(List.of(spinner));
            long sleep0 = Proc.cpuTicks(List.of(sleeper));
            Thread.sleep(1_000);

            long spun = Proc.cpuTicks(List.of(spinner)) - spin0;
            assertThat(spun).as("ticks of a spinning child in 1 s").isGreaterThanOrEqualTo(Proc.TICKS_PER_SECOND / 5);
            assertThat(Proc.cpuTicks(List.of(sleeper)) - sleep0).isLessThanOrEqualTo(1);
        }
    }

    @Test
    void aProcessThatIsGoneCostsNothing() {
        assertThat(Proc.cpuTicks(Long.MAX_VALUE)).isZero();
    }
}
