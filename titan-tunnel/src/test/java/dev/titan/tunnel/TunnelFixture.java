package dev.titan.tunnel;

import static org.awaitility.Awaitility.await;
import dev.titan.core.net.Transport;
import dev.titan.core.testing.TestServers;
import dev.titan.core.testing.Transports;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * What every reverse-tunnel test needs: a transport (each test class runs on NIO, epoll and
 * io_uring where available), a server, clients, local services, and byte helpers. The tests,
 * end to end over real sockets, are split by behaviour: {@link TunnelStreamsTest},
 * {@link TunnelAdmissionTest}, {@link TunnelReplicasTest}, {@link TunnelLimitsTest}.
 */
abstract class TunnelFixture {
    static final String SECRET = "s3cret-for-tests";

    Transport transport;
    TunnelServer server;
    final List<AutoCloseable> closing = new ArrayList<>();

    /** The transports a tunnel runs on here: NIO always, epoll and io_uring where the kernel has them. */
    static Stream<Transport.Kind> transports() {
        return Transports.available();
    }

    final Transport.Kind kind;

    TunnelFixture(Transport.Kind kind) {
        this.kind = kind;
    }

    @BeforeEach
    void setUp() {
        transport = Transport.create(kind, 2);
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        if (server != null) {
            server.close();
        }
        transport.close();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    TunnelServer startServer(TunnelServerConfig.PortRange ports) {
        return startServer(TunnelServerConfig.User.of("id1", SECRET, List.of(ports)));
    }

    TunnelServer startServer(TunnelServerConfig.User user) {
        return startServer(user, null);
    }

    /** A server whose clients' tunnels all join one cluster named {@code sharedCluster} (an overlay PoP's edges), or one per client when null. */
    TunnelServer startServer(TunnelServerConfig.User user, String sharedCluster) {
        TunnelServerConfig cfg = new TunnelServerConfig(new InetSocketAddress("127.0.0.1", 0), "127.0.0.1", List.of(user),
                TunnelSettings.DEFAULTS, Duration.ofMinutes(1), null);
        server = new TunnelServer(cfg, transport, dev.titan.core.engine.ClusterRegistry.NONE, new dev.titan.core.metrics.TitanMetrics(), sharedCluster);
        server.start();
        return server;
    }

    /** A registry with the server's metrics bound. */
    io.micrometer.core.instrument.simple.SimpleMeterRegistry serverMetrics() {
        io.micrometer.core.instrument.simple.SimpleMeterRegistry registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        server.bindMetrics(registry);
        return registry;
    }

    TunnelClient startClient(String secret, int connections, TunnelClientConfig.LocalService... services) {
        TunnelClient c = new TunnelClient(TunnelClientConfig.of(server.address(), "id1", secret, connections, List.of(services)), transport);
        closing.add(c);
        c.start();
        return c;
    }

    TestServers.TcpServer echo() throws IOException {
        TestServers.TcpServer e = TestServers.echo("local-echo");
        closing.add(e);
        return e;
    }

    /** A service that accepts, then reads nothing until {@code release} (at most a minute). */
    static TestServers.TcpServer neverReads(java.util.concurrent.CountDownLatch release) throws IOException {
        return new TestServers.TcpServer("never-reads", s -> {
            try {
                release.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    void awaitExposed(int port) {
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            try (Socket s = new Socket("127.0.0.1", port)) {
                return true;
            } catch (IOException e) {
                return false;
            }
        });
    }


    /** Reads one HTTP/1.1 response with a Content-Length and returns its body. */
    static String readResponseBody(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed after " + head.length() + " bytes of a response head");
            }
            head.append((char) b);
        }
        String h = head.toString().toLowerCase(java.util.Locale.ROOT);
        int at = h.indexOf("content-length:");
        int len = Integer.parseInt(h.substring(at + 15, h.indexOf("\r\n", at)).trim());
        return new String(in.readNBytes(len), StandardCharsets.US_ASCII);
    }

    static long writeRandom(OutputStream out, long size, long seed) throws IOException {
        Random r = new Random(seed);
        CRC32 crc = new CRC32();
        byte[] buf = new byte[64 * 1024];
        long left = size;
        while (left > 0) {
            r.nextBytes(buf);
            int n = (int) Math.min(buf.length, left);
            crc.update(buf, 0, n);
            out.write(buf, 0, n);
            left -= n;
        }
        out.flush();
        return crc.getValue();
    }

    /** Reads {@code size} bytes (or until EOF): returns {count, crc}. */
    static long[] readAll(InputStream in, long size) throws IOException {
        CRC32 crc = new CRC32();
        byte[] buf = new byte[64 * 1024];
        long total = 0;
        int n;
        while (total < size && (n = in.read(buf)) >= 0) {
            crc.update(buf, 0, n);
            total += n;
        }
        return new long[] {total, crc.getValue()};
    }

    static boolean drainUntilClosed(InputStream in) {
        try {
            byte[] buf = new byte[4096];
            while (in.read(buf) >= 0) {
                // what a server says before closing does not matter here
            }
            return true;
        } catch (IOException e) {
            return e.getMessage() != null && e.getMessage().contains("reset");
        }
    }
}
