package dev.titan.app;

import dev.titan.core.config.TitanConfig;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code titan aot-training}: a short workload on loopback that takes Titan through the workloads a
 * proxy runs all day, so that a JVM recording an AOT cache ({@code -XX:AOTCacheOutput}, JDK 25 and
 * later) stores the classes they load and the profiles they build. A JVM started with that cache
 * compiles its hot workloads from those profiles at once instead of deoptimising and recompiling on
 * the core it forwards on while traffic arrives (docs/benchmarks.md, "latency tail").
 *
 * <p>One process runs a forwarder, a tunnel server and a tunnel client (on the default transport),
 * and drives them with plain JDK sockets on virtual threads, so that Netty's profiles are Titan's
 * own: keep-alive and one-shot HTTP requests, and bulk streams that upload, half-close and
 * download, through the forwarder, the tunnel's HTTP by Host and a tunnel's mapped TCP port. Every
 * address is 127.0.0.1 and every port ephemeral. {@code ./titan} runs it once per jar and JDK.
 */
@Command(name = "aot-training", mixinStandardHelpOptions = true, description = {
        "Run a short workload on loopback (a forwarder and a tunnel, driven by built-in clients) for a JVM",
        "recording an AOT cache; ./titan does this once per build on JDK 25 and later. Exits 1 if any path",
        "carried no traffic."})
final class AotTrainingCommand implements Callable<Integer> {
    private static final byte[] RESPONSE = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
            + "hello, titan\n").getBytes(StandardCharsets.US_ASCII);
    private static final byte[] RESPONSE_CLOSE = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
            + "Connection: close\r\n\r\nhello, titan\n").getBytes(StandardCharsets.US_ASCII);
    private static final int BULK_BYTES = 4 << 20;

    @Option(names = "--seconds", defaultValue = "10", description = "How long the workload runs (default ${DEFAULT-VALUE}).")
    int seconds;

    @Override
    public Integer call() throws Exception {
        if (seconds < 1 || seconds > 600) {
            System.err.println("aot-training: --seconds must be in [1, 600]");
            return Main.EXIT_CONFIG;
        }
        InetAddress lo = InetAddress.getLoopbackAddress();
        try (Backend http = new Backend(new ServerSocket(0, 1024, lo), AotTrainingCommand::serveHttp);
             Backend sink = new Backend(new ServerSocket(0, 1024, lo), AotTrainingCommand::serveBulk)) {
            int[] ports = freePorts(5);
            int l4Http = ports[0];
            int l4Bulk = ports[1];
            int tunnel = ports[2];
            int mappedHttp = ports[3];
            int mappedBulk = ports[4];
            String yaml = """
                    logging: { level: warn }
                    metrics: { enabled: false }
                    admin: { enabled: false }
                    drain_timeout: 0s
                    listeners:
                      - { name: http, listen_addr: "127.0.0.1:%1$d", cluster: http }
                      - { name: bulk, listen_addr: "127.0.0.1:%2$d", cluster: bulk }
                    clusters:
                      http:
                        endpoints: [ "127.0.0.1:%6$d" ]
                        pools: { strategy: { type: dynamic, dynamic: { min_size: 4, max_size: 64 } } }
                      bulk:
                        endpoints: [ "127.0.0.1:%7$d" ]
                        pools: { strategy: { type: static, static: { size_per_remote: 0 } } }
                    tunnel_server:
                      listen_addr: "127.0.0.1:%3$d"
                      expose_host: "127.0.0.1"
                      users: [ { id: train, secret: "aot-training-only", ports: [ "%4$d", "%5$d" ] } ]
                    tunnel_client:
                      servers: [ "tcp://127.0.0.1:%3$d" ]
                      id: train
                      secret: "aot-training-only"
                      services:
                        - { name: web, local: "http://127.0.0.1:%6$d" }
                        - { name: web-tcp, local: "tcp://127.0.0.1:%6$d", remote_port: %4$d }
                        - { name: bulk, local: "tcp://127.0.0.1:%7$d", remote_port: %5$d }
                    """.formatted(l4Http, l4Bulk, tunnel, mappedHttp, mappedBulk, http.port(), sink.port());
            TitanConfig cfg = Main.configLoader().parse("aot-training", yaml);
            Runner runner = new Runner(null, cfg, false);
            if (!runner.start()) {
                return Main.EXIT_FAILURE;
            }
            try {
                awaitPort(mappedBulk, 15_000);
                return drive(l4Http, l4Bulk, tunnel, mappedHttp, mappedBulk);
            } finally {
                runner.stop();
            }
        }
    }

    /** Runs every client until the deadline; 0 if each path carried traffic without failing throughout. */
    private int drive(int l4Http, int l4Bulk, int tunnel, int mappedHttp, int mappedBulk) throws InterruptedException {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        List<Workload> workloads = List.of(
                new Workload("forwarder, keep-alive", () -> keepAlive(l4Http, "train", deadline), 16),
                new Workload("forwarder, one request per connection", () -> oneShot(l4Http, "train", deadline), 2),
                new Workload("forwarder, bulk", () -> bulk(l4Bulk, deadline), 1),
                new Workload("tunnel by Host, keep-alive", () -> keepAlive(tunnel, "train.localhost", deadline), 16),
                new Workload("tunnel by Host, one request per connection", () -> oneShot(tunnel, "train.localhost", deadline), 2),
                new Workload("tunnel mapped port, keep-alive", () -> keepAlive(mappedHttp, "train", deadline), 4),
                new Workload("tunnel mapped port, bulk", () -> bulk(mappedBulk, deadline), 1));
        List<Thread> threads = new ArrayList<>();
        for (Workload p : workloads) {
            for (int i = 0; i < p.clients; i++) {
                threads.add(Thread.ofVirtual().name("aot-training-client").start(p::run));
            }
        }
        for (Thread t : threads) {
            t.join(seconds * 1000L + 30_000);
        }
        int status = Main.EXIT_OK;
        for (Workload p : workloads) {
            System.out.printf(Locale.ROOT, "aot-training: %-45s %,9d exchanges, %d failed%n", p.name, p.exchanges.get(), p.failures.get());
            if (p.exchanges.get() == 0 || p.failures.get() > 0) {
                status = Main.EXIT_FAILURE;
            }
        }
        return status;
    }

    /** One client's work; returns how many exchanges (requests, or bulk round trips) it completed. */
    private interface Load {
        long run() throws IOException;
    }

    private static final class Workload {
        final String name;
        final Load load;
        final int clients;
        final AtomicLong exchanges = new AtomicLong();
        final AtomicLong failures = new AtomicLong();

        Workload(String name, Load load, int clients) {
            this.name = name;
            this.load = load;
            this.clients = clients;
        }

        void run() {
            try {
                exchanges.addAndGet(load.run());
            } catch (IOException | RuntimeException e) {
                failures.incrementAndGet();
                System.err.println("aot-training: " + name + ": " + e);
            }
        }
    }

    /** Requests on one connection until the deadline; returns how many were answered. */
    private static long keepAlive(int port, String host, long deadline) throws IOException {
        byte[] request = ("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        long n = 0;
        try (Socket s = connect(port)) {
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            while (System.nanoTime() < deadline) {
                out.write(request);
                readResponse(in);
                n++;
            }
        }
        return n;
    }

    /** A new connection per request (Connection: close) until the deadline. */
    private static long oneShot(int port, String host, long deadline) throws IOException {
        byte[] request = ("GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        long n = 0;
        while (System.nanoTime() < deadline) {
            try (Socket s = connect(port)) {
                s.getOutputStream().write(request);
                InputStream in = new BufferedInputStream(s.getInputStream());
                readResponse(in);
                if (in.read() != -1) {
                    throw new IOException("bytes after a Connection: close response");
                }
            }
            n++;
        }
        return n;
    }

    /** Uploads BULK_BYTES, half-closes and reads the same number back, per connection, until the deadline. */
    private static long bulk(int port, long deadline) throws IOException {
        byte[] chunk = new byte[64 << 10];
        long n = 0;
        while (System.nanoTime() < deadline) {
            try (Socket s = connect(port)) {
                OutputStream out = s.getOutputStream();
                for (int sent = 0; sent < BULK_BYTES; sent += chunk.length) {
                    out.write(chunk);
                }
                s.shutdownOutput();
                long back = drain(s.getInputStream(), chunk);
                if (back != BULK_BYTES) {
                    throw new IOException("bulk stream returned " + back + " bytes, expected " + BULK_BYTES);
                }
            }
            n++;
        }
        return n;
    }

    private static Socket connect(int port) throws IOException {
        Socket s = new Socket();
        try {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5_000);
            s.setSoTimeout(10_000);
            s.setTcpNoDelay(true);
            return s;
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    /** Reads a response's head and its Content-Length body. */
    private static void readResponse(InputStream in) throws IOException {
        String status = headLine(in);
        if (!status.startsWith("HTTP/1.1 200")) {
            throw new IOException("unexpected status line: " + status);
        }
        int length = -1;
        for (String l; !(l = headLine(in)).isEmpty(); ) {
            if (l.regionMatches(true, 0, "content-length:", 0, 15)) {
                length = Integer.parseInt(l.substring(15).strip());
            }
        }
        if (length < 0) {
            throw new IOException("response without Content-Length");
        }
        in.skipNBytes(length); // throws EOFException on a short body
    }

    /** A line of a response's head, which the connection must not end inside. */
    private static String headLine(InputStream in) throws IOException {
        String l = readLine(in);
        if (l == null) {
            throw new IOException("connection closed inside a response");
        }
        return l;
    }

    /** One line of an HTTP head without its line end, or null at the end of input. */
    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int c; (c = in.read()) >= 0; ) {
            if (c == '\n') {
                return line.toString().strip();
            }
            line.append((char) c);
        }
        return null;
    }

    private static long drain(InputStream in, byte[] buf) throws IOException {
        long total = 0;
        for (int r; (r = in.read(buf)) >= 0; ) {
            total += r;
        }
        return total;
    }

    /** The HTTP backend: answers every request on the connection, closing after a Connection: close one. */
    private static void serveHttp(Socket s) throws IOException {
        InputStream in = new BufferedInputStream(s.getInputStream());
        OutputStream out = s.getOutputStream();
        boolean close = false;
        for (String l; (l = readLine(in)) != null; ) {
            if (l.regionMatches(true, 0, "connection:", 0, 11) && l.substring(11).strip().equalsIgnoreCase("close")) {
                close = true;
            } else if (l.isEmpty()) {
                out.write(close ? RESPONSE_CLOSE : RESPONSE);
                if (close) {
                    return;
                }
            }
        }
    }

    /** The bulk backend: reads to the end of input, then sends as many bytes back and closes. */
    private static void serveBulk(Socket s) throws IOException {
        byte[] buf = new byte[64 << 10];
        long total = drain(s.getInputStream(), buf);
        OutputStream out = s.getOutputStream();
        Arrays.fill(buf, (byte) 0);
        while (total > 0) {
            int n = (int) Math.min(buf.length, total);
            out.write(buf, 0, n);
            total -= n;
        }
    }

    private interface Service {
        void serve(Socket s) throws IOException;
    }

    /** A blocking loopback server with a virtual thread per connection. */
    private static final class Backend implements AutoCloseable {
        private final ServerSocket server;

        Backend(ServerSocket server, Service service) {
            this.server = server;
            Thread.ofVirtual().name("aot-training-backend").start(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket s = server.accept();
                        Thread.ofVirtual().start(() -> {
                            try (s) {
                                s.setTcpNoDelay(true);
                                service.serve(s);
                            } catch (IOException e) {
                                // the client went away; its own side counts that
                            }
                        });
                    } catch (IOException e) {
                        return; // closed
                    }
                }
            });
        }

        int port() {
            return server.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    /** Distinct ports free on 127.0.0.1 now (held together while chosen, so none repeats). */
    private static int[] freePorts(int n) throws IOException {
        List<ServerSocket> held = new ArrayList<>();
        try {
            int[] ports = new int[n];
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                held.add(s);
                ports[i] = s.getLocalPort();
            }
            return ports;
        } finally {
            for (ServerSocket s : held) {
                s.close();
            }
        }
    }

    private static void awaitPort(int port, long timeoutMillis) throws IOException, InterruptedException {
        long end = System.currentTimeMillis() + timeoutMillis;
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1_000);
                return;
            } catch (IOException e) {
                if (System.currentTimeMillis() > end) {
                    throw new IOException("the tunnel's mapped port " + port + " did not open within " + timeoutMillis + " ms", e);
                }
                Thread.sleep(100);
            }
        }
    }
}
