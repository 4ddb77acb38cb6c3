package dev.titan.app;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.config.TitanConfig;
import dev.titan.core.net.Transport;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code titan demo}: a forwarder in front of three local HTTP backends of different latency,
 * with a little traffic of its own, so that a newcomer sees scoring and selection at work with
 * nothing installed and no network.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, description = {
        "Start a forwarder in front of three local demo backends (fast, medium, slow) and show traffic",
        "moving to the fastest one; after --switch-after seconds the fast backend turns slow and",
        "traffic moves again. Works offline; stop with Ctrl+C."})
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "8080", description = "Port of the forwarder on 127.0.0.1 (default ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--switch-after", defaultValue = "20", description = "Seconds until the fast backend turns slow (0: never).")
    int switchAfter;

    @Option(names = "--duration", defaultValue = "0", description = "Stop after this many seconds (0: run until Ctrl+C).")
    int duration;

    @Option(names = "--metrics-port", defaultValue = "9099", description = "Metrics port (default ${DEFAULT-VALUE}).")
    int metricsPort;

    @Option(names = "--admin-port", defaultValue = "9098", description = "Admin API port (default ${DEFAULT-VALUE}).")
    int adminPort;

    @Override
    public Integer call() throws Exception {
        Transport backendsIo = Transport.create("auto", 1);
        List<DemoBackend> backends = List.of(
                new DemoBackend(backendsIo, "fast", 2),
                new DemoBackend(backendsIo, "medium", 60),
                new DemoBackend(backendsIo, "slow", 250));
        String yaml = """
                logging: { level: warn, levels: { dev.titan.core.cluster: info } }
                metrics: { listen_addr: "127.0.0.1:%d" }
                admin: { listen_addr: "127.0.0.1:%d" }
                drain_timeout: 2s
                listeners:
                  - { name: demo, listen_addr: "127.0.0.1:%d", cluster: demo }
                clusters:
                  demo:
                    endpoints: [ "127.0.0.1:%d", "127.0.0.1:%d", "127.0.0.1:%d" ]
                    probing: { type: http, interval: 500ms, timeout: 1s, initial: { timeout: 1s } }
                    # a finer latency scale than seed 001's default (full marks up to 50 ms), so that
                    # 2 ms and 60 ms backends score apart
                    scoring: { latency: { base_latency: 1ms, max_acceptable_latency: 500ms } }
                    selector: { evaluation_interval: 1s, active_set_size: 1,
                                switching: { debounce_interval: 3s, score_improvement_threshold: 2.0 } }
                    balancer: { algorithm: least_connections }
                    pools: { strategy: { type: static, static: { size_per_remote: 4 } } }
                """.formatted(metricsPort, adminPort, port, backends.get(0).port(), backends.get(1).port(), backends.get(2).port());
        TitanConfig cfg = Main.configLoader().parse("demo", yaml);
        Runner runner = new Runner(null, cfg, false);
        if (!runner.start()) {
            backends.forEach(DemoBackend::close);
            backendsIo.close();
            return Main.EXIT_FAILURE;
        }
        AtomicBoolean running = new AtomicBoolean(true);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            running.set(false);
            runner.stop();
        }, "titan-demo-stop"));
        System.out.printf("""
                Titan demo is running.
                  forwarder   curl http://127.0.0.1:%d/     (three backends behind it: %s)
                  metrics     curl http://127.0.0.1:%d/metrics
                  score table ./titan status
                Every 2 s the demo sends traffic through the forwarder and prints who served it.
                %s
                """, port, backendsLine(backends), metricsPort,
                switchAfter > 0 ? "After " + switchAfter + " s the fast backend becomes slow (400 ms) and traffic moves. Ctrl+C stops."
                        : "Ctrl+C stops.");
        Thread traffic = Thread.ofVirtual().start(() -> trafficLoop(running));
        long start = System.nanoTime();
        long[] last = new long[backends.size()];
        boolean switched = false;
        Cluster cluster = runner.engine().clusters().get("demo");
        while (running.get()) {
            Thread.sleep(2000);
            long elapsed = (System.nanoTime() - start) / 1_000_000_000L;
            if (!switched && switchAfter > 0 && elapsed >= switchAfter) {
                backends.get(0).delayMillis(400);
                switched = true;
                System.out.println(">>> the 'fast' backend now answers in 400 ms; watch the traffic move");
            }
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "t=%3ds  served in last 2 s:", elapsed));
            for (int i = 0; i < backends.size(); i++) {
                DemoBackend b = backends.get(i);
                long now = b.served();
                line.append(String.format(Locale.ROOT, "  %s=%-3d", b.name(), now - last[i]));
                last[i] = now;
            }
            line.append("  active set: ").append(cluster.active().stream()
                    .map(e -> nameOf(backends, e.address().getPort())).toList());
            System.out.println(line);
            if (duration > 0 && elapsed >= duration) {
                running.set(false);
            }
        }
        traffic.join(3000);
        runner.stop();
        backends.forEach(DemoBackend::close);
        backendsIo.close();
        return Main.EXIT_OK;
    }

    private static String backendsLine(List<DemoBackend> backends) {
        StringBuilder sb = new StringBuilder();
        for (DemoBackend b : backends) {
            sb.append(sb.isEmpty() ? "" : ", ").append(b.name()).append(" :").append(b.port()).append(' ').append(b.delayMillis()).append(" ms");
        }
        return sb.toString();
    }

    private static String nameOf(List<DemoBackend> backends, int port) {
        return backends.stream().filter(b -> b.port() == port).map(DemoBackend::name).findFirst().orElse(String.valueOf(port));
    }

    /** About ten requests a second through the forwarder, one connection each, while the demo runs. */
    private void trafficLoop(AtomicBoolean running) {
        byte[] request = "GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        byte[] buf = new byte[4096];
        while (running.get()) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                s.setSoTimeout(3000);
                OutputStream out = s.getOutputStream();
                out.write(request);
                out.flush();
                InputStream in = s.getInputStream();
                while (in.read(buf) >= 0) {
                    // read the whole response
                }
            } catch (Exception e) {
                // the demo keeps going; a failed request shows as a missing count
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
