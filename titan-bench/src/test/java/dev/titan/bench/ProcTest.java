package dev.titan.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
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
        assertThat(Proc.sleeps(Long.MAX_VALUE)).isZero();
    }

    @Test
    void sleepsCountEachTimeAThreadWaitedAndNoneWhileItSpins(@TempDir Path dir) throws Exception {
        // the napper's shell waits for 30 short sleep commands, one after the other: 30 sleeps of its own at least
        Path spin = Files.writeString(dir.resolve("spin.sh"), "i=0; while [ $i -lt 50000000 ]; do i=$((i+1)); done\n");
        try (Proc napper = Proc.start("naps", null, dir.resolve("naps.log"),
                     List.of("sh", "-c", "i=0; while [ $i -lt 30 ]; do sleep 0.01; i=$((i+1)); done; echo done; exec sleep 10"));
             Proc spinner = Proc.start("spin", null, dir.resolve("spin.log"), List.of("sh", spin.toString()))) {
            long spinning = Proc.sleeps(List.of(spinner));
            for (int i = 0; i < 100 && !Files.readString(dir.resolve("naps.log")).contains("done"); i++) {
                Thread.sleep(50);
            }
            assertThat(Files.readString(dir.resolve("naps.log"))).contains("done");
            assertThat(Proc.sleeps(List.of(napper))).isGreaterThanOrEqualTo(30);
            assertThat(Proc.sleeps(List.of(spinner)) - spinning).as("sleeps of a spinning shell").isLessThanOrEqualTo(2);
        }
    }

    @Test
    void tcpSegmentsSentCountWhatLoopbackConnectionsSend() throws Exception {
        long before = Proc.tcpSegmentsSent();
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
             Socket accepted = server.accept()) {
            client.setTcpNoDelay(true);
            accepted.setTcpNoDelay(true);
            for (int i = 0; i < 20; i++) { // ping-pong: each byte is a segment of its own
                client.getOutputStream().write(i);
                assertThat(accepted.getInputStream().read()).isEqualTo(i);
                accepted.getOutputStream().write(i);
                assertThat(client.getInputStream().read()).isEqualTo(i);
            }
        }
        assertThat(Proc.tcpSegmentsSent() - before).as("segments sent, at least the 40 bytes and the handshake").isGreaterThanOrEqualTo(42);
    }

    @Test
    void tcpSegmentsAreReadFromTheLineOfValuesUnderTheirName(@TempDir Path dir) throws Exception {
        Path snmp = Files.writeString(dir.resolve("snmp"), """
                Ip: Forwarding DefaultTTL InReceives
                Ip: 1 64 123
                Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
                Tcp: 1 200 120000 -1 10 20 0 1 3 4000 4217 0 0 5 0
                Udp: InDatagrams NoPorts
                Udp: 7 8
                """);
        assertThat(Proc.tcpSegmentsSent(snmp)).isEqualTo(4217);
        assertThat(Proc.tcpSegmentsSent(Files.writeString(dir.resolve("empty"), "Ip: Forwarding\nIp: 1\n"))).isZero();
        assertThat(Proc.tcpSegmentsSent(dir.resolve("missing"))).isZero();
    }
}
