package dev.titan.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.LongUnaryOperator;

/** A process the bench started, stopped (with its children) when the bench ends. */
final class Proc implements AutoCloseable {
    final String name;
    final Process process;

    private Proc(String name, Process process) {
        this.name = name;
        this.process = process;
    }

    /** Starts {@code cmd}, pinned to {@code cpus} with taskset when given; output goes to {@code log}. */
    static Proc start(String name, String cpus, Path log, List<String> cmd) throws IOException {
        List<String> full = new ArrayList<>();
        if (cpus != null) {
            full.addAll(List.of("taskset", "-c", cpus));
        }
        full.addAll(cmd);
        Process p = new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new Proc(name, p);
    }

    /** Runs a command to completion and returns its output (stdout and stderr). */
    static String run(List<String> cmd, long timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + ": timed out");
        }
        return new String(out);
    }

    static String runQuiet(List<String> cmd) {
        return runQuiet(cmd, 10);
    }

    static String runQuiet(List<String> cmd, long timeoutSeconds) {
        try {
            return run(cmd, timeoutSeconds).trim();
        } catch (Exception e) {
            return "unavailable";
        }
    }

    /** Waits until something accepts TCP connections on {@code port} (127.0.0.1). */
    static void awaitPort(String what, int port, long timeoutMillis) throws InterruptedException {
        long end = System.currentTimeMillis() + timeoutMillis;
        while (System.currentTimeMillis() < end) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException e) {
                Thread.sleep(10);
            }
        }
        throw new IllegalStateException(what + " did not listen on port " + port + " within " + timeoutMillis + " ms");
    }

    /** Resident set size in KiB of this process and all its descendants. */
    long rssKib() {
        long total = rss(process.pid());
        for (ProcessHandle h : process.descendants().toList()) {
            total += rss(h.pid());
        }
        return total;
    }

    /**
     * Live Java heap in KiB of these processes that are JVMs (others count nothing), or -1 when none
     * is: jcmd's class histogram collects garbage before it counts, so only what is reachable is in
     * its total. Unlike RSS growth, which moves with when the collector last ran and how far the
     * heap has grown, this compares builds. Only a JVM is asked: jcmd attaches with SIGQUIT, which
     * ends any other process (sshd, ssh).
     */
    static long liveHeapKib(List<Proc> procs) {
        String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
        long total = -1;
        for (Proc p : procs) {
            if (!p.process.info().command().map(c -> c.endsWith("/java")).orElse(false)) {
                continue;
            }
            String out = runQuiet(List.of(jcmd, Long.toString(p.process.pid()), "GC.class_histogram"), 120);
            for (String line : out.lines().toList()) { // the last line: "Total <instances> <bytes>"
                String[] f = line.trim().split("\\s+");
                if (f.length == 3 && f[0].equals("Total")) {
                    total = Math.max(total, 0) + Long.parseLong(f[2]) / 1024;
                }
            }
        }
        return total;
    }

    /** Clock ticks per second of {@code /proc/<pid>/stat}'s CPU times ({@code getconf CLK_TCK}, 100 on Linux). */
    static final long TICKS_PER_SECOND = ticksPerSecond();

    private static long ticksPerSecond() {
        try {
            return Long.parseLong(runQuiet(List.of("getconf", "CLK_TCK")));
        } catch (NumberFormatException e) {
            return 100;
        }
    }

    /** CPU time (user and system, clock ticks) used so far by these processes and their descendants. */
    static long cpuTicks(List<Proc> procs) {
        return sumOverTree(procs, Proc::cpuTicks);
    }

    /** {@code perProcess} summed over these processes and their descendants. */
    private static long sumOverTree(List<Proc> procs, LongUnaryOperator perProcess) {
        long total = 0;
        for (Proc p : procs) {
            total += perProcess.applyAsLong(p.process.pid());
            for (ProcessHandle h : p.process.descendants().toList()) {
                total += perProcess.applyAsLong(h.pid());
            }
        }
        return total;
    }

    static long cpuTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            // after "(comm)", which may hold spaces: state is field 3, utime 14 and stime 15
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]);
        } catch (IOException | RuntimeException e) {
            return 0; // gone
        }
    }

    /**
     * Voluntary context switches so far of every thread of these processes and their descendants:
     * each is a thread going to sleep for want of work, so that something on another core has to
     * wake it up again.
     */
    static long sleeps(List<Proc> procs) {
        return sumOverTree(procs, Proc::sleeps);
    }

    static long sleeps(long pid) {
        long total = 0;
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path task : tasks.toList()) {
                total += statusField(task.resolve("status"), "voluntary_ctxt_switches:");
            }
        } catch (IOException | UncheckedIOException e) {
            // gone
        }
        return total;
    }

    /** Threads of these processes and their descendants now. */
    static long threads(List<Proc> procs) {
        return sumOverTree(procs, pid -> {
            try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
                return tasks.count();
            } catch (IOException | UncheckedIOException e) {
                return 0; // gone
            }
        });
    }

    /** Moves this process, its descendants and all their threads to {@code cpus} (taskset -a -p). */
    void pin(String cpus) {
        if (cpus == null) {
            return;
        }
        runQuiet(List.of("taskset", "-a", "-p", "-c", cpus, Long.toString(process.pid())));
        for (ProcessHandle h : process.descendants().toList()) {
            runQuiet(List.of("taskset", "-a", "-p", "-c", cpus, Long.toString(h.pid())));
        }
    }

    /** TCP segments sent so far in this network namespace (all sockets: {@code OutSegs} of {@code /proc/net/snmp}). */
    static long tcpSegmentsSent() {
        return tcpSegmentsSent(Path.of("/proc/net/snmp"));
    }

    static long tcpSegmentsSent(Path snmp) {
        try {
            List<String> tcp = Files.readAllLines(snmp).stream().filter(l -> l.startsWith("Tcp:")).toList();
            if (tcp.size() == 2) { // a line of names, then one of values
                List<String> names = List.of(tcp.get(0).split("\\s+"));
                String[] values = tcp.get(1).split("\\s+");
                int i = names.indexOf("OutSegs");
                if (i > 0 && i < values.length) {
                    return Long.parseLong(values[i]);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux, or another layout: nothing to count
        }
        return 0;
    }

    /** The number in a {@code /proc/<pid>/status} line such as {@code VmRSS:  1234 kB}; 0 if there is none. */
    private static long statusField(Path status, String field) {
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.substring(field.length()).replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            // gone
        }
        return 0;
    }

    static long rss(long pid) {
        return statusField(Path.of("/proc/" + pid + "/status"), "VmRSS:");
    }

    @Override
    public void close() {
        process.descendants().forEach(ProcessHandle::destroy);
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
