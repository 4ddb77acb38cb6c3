package dev.titan.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The machine's loopback connection state, as scenarios that open many connections must manage
 * it: the ephemeral port range (widened for a scenario, restored after) and the TIME_WAIT table
 * (waited out before a measurement, so one system's leftovers do not slow the next).
 */
final class LoopbackPorts {
    private LoopbackPorts() {
    }

    /**
     * The ephemeral port range as "low high". Read line by line: {@code Files.readString} returned
     * only the first byte of this /proc file (its size is reported as 0), which once made the
     * restore below write "3" and fail, leaving the machine's range widened.
     */
    static String portRange() throws IOException {
        return String.join(" ", Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))).trim().replaceAll("\\s+", " ");
    }

    /**
     * The ephemeral port range widened to 20000-65000 for a scenario that opens many connections,
     * and put back on close, or by a shutdown hook when a signal ends the run first.
     */
    record WidePorts(String range, Thread restore) implements AutoCloseable {
        static final WidePorts NONE = new WidePorts(null, null);

        static WidePorts widen() throws IOException {
            String range = portRange();
            if (!Proc.runQuiet(List.of("sysctl", "-w", "net.ipv4.ip_local_port_range=20000 65000")).contains("20000")) {
                return NONE;
            }
            Thread restore = new Thread(() -> {
                try {
                    restorePortRange(range);
                } catch (IOException e) {
                    System.out.println("  WARNING: could not restore net.ipv4.ip_local_port_range to " + range + ": " + e);
                }
            }, "restore-port-range");
            Runtime.getRuntime().addShutdownHook(restore);
            return new WidePorts(range, restore);
        }

        boolean widened() {
            return range != null;
        }

        @Override
        public void close() throws IOException {
            if (widened()) {
                Runtime.getRuntime().removeShutdownHook(restore);
                restorePortRange(range);
            }
        }
    }

    static void restorePortRange(String range) throws IOException {
        Proc.runQuiet(List.of("sysctl", "-w", "net.ipv4.ip_local_port_range=" + range));
        if (!portRange().equals(range)) {
            System.out.println("  WARNING: could not restore net.ipv4.ip_local_port_range to " + range + " (now " + portRange() + ")");
        }
    }

    static void awaitTimeWaitDrained(long below) throws InterruptedException {
        long end = System.currentTimeMillis() + 65_000;
        while (System.currentTimeMillis() < end) {
            String out = Proc.runQuiet(List.of("sh", "-c", "ss -tan state time-wait | wc -l"));
            try {
                if (Long.parseLong(out.trim()) < below) {
                    return;
                }
            } catch (NumberFormatException e) {
                return; // no ss: nothing to wait for
            }
            Thread.sleep(1000);
        }
    }
}
