package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.titan.core.net.Transport;
import dev.titan.core.testing.TestServers;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The reverse tunnel end to end over real sockets: a client behind "NAT" exposes local services through a server. */
class TunnelTest {
    private static final String SECRET = "s3cret-for-tests";

    private Transport transport;
    private TunnelServer server;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void setUp() {
        transport = Transport.create(kind(), 2);
    }

    /** The transport under test: NIO here, epoll in {@link EpollTunnelTest} (what production uses on Linux). */
    Transport.Kind kind() {
        return Transport.Kind.NIO;
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

    private TunnelServer startServer(TunnelServerConfig.PortRange ports) {
        return startServer(TunnelServerConfig.User.of("id1", SECRET, List.of(ports)));
    }

    private TunnelServer startServer(TunnelServerConfig.User user) {
        TunnelServerConfig cfg = new TunnelServerConfig(new InetSocketAddress("127.0.0.1", 0), "127.0.0.1", List.of(user),
                TunnelSettings.DEFAULTS, Duration.ofMinutes(1), null);
        server = new TunnelServer(cfg, transport);
        server.start();
        return server;
    }

    /** A registry with the server's metrics bound. */
    private io.micrometer.core.instrument.simple.SimpleMeterRegistry serverMetrics() {
        io.micrometer.core.instrument.simple.SimpleMeterRegistry registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        server.bindMetrics(registry);
        return registry;
    }

    private TunnelClient startClient(String secret, int connections, TunnelClientConfig.LocalService... services) {
        TunnelClient c = new TunnelClient(TunnelClientConfig.of(server.address(), "id1", secret, connections, List.of(services)), transport);
        closing.add(c);
        c.start();
        return c;
    }

    private TestServers.TcpServer echo() throws IOException {
        TestServers.TcpServer e = TestServers.echo("local-echo");
        closing.add(e);
        return e;
    }

    /** A service that accepts, then reads nothing until {@code release} (at most a minute). */
    private static TestServers.TcpServer neverReads(java.util.concurrent.CountDownLatch release) throws IOException {
        return new TestServers.TcpServer("never-reads", s -> {
            try {
                release.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    private void awaitExposed(int port) {
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            try (Socket s = new Socket("127.0.0.1", port)) {
                return true;
            } catch (IOException e) {
                return false;
            }
        });
    }

    @Test
    void tcpPortMappingCarriesBytesIntactBothWays() throws Exception {
        int port = freePort();
        startServer(new TunnelServerConfig.PortRange(port, port));
        TunnelClient client = startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("echo", echo().address(), port));
        await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 1);
        awaitExposed(port);

        long size = 256L << 20;
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            CompletableFuture<Long> sent = CompletableFuture.supplyAsync(() -> {
                try {
                    return writeRandom(s.getOutputStream(), size, 42);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            long[] received = readAll(s.getInputStream(), size);
            assertThat(received[0]).as("every byte came back through the tunnel").isEqualTo(size);
            assertThat(received[1]).as("and unchanged (CRC32)").isEqualTo(sent.get(30, TimeUnit.SECONDS));
        }
        assertThat(server.streamsTotal()).as("one stream per user connection: the readiness probe's and the transfer's").isEqualTo(2);
    }

    @Test
    void manyConcurrentStreamsInOneTunnel() throws Exception {
        int port = freePort();
        startServer(new TunnelServerConfig.PortRange(port, port));
        TunnelClient client = startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("echo", echo().address(), port));
        await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 1);
        awaitExposed(port);

        int n = 1_000;
        List<Socket> sockets = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                Socket s = new Socket("127.0.0.1", port);
                s.setSoTimeout(10_000);
                sockets.add(s);
                s.getOutputStream().write(("hello " + i + "\n").getBytes(StandardCharsets.US_ASCII));
            }
            for (int i = 0; i < n; i++) {
                BufferedReader r = new BufferedReader(new InputStreamReader(sockets.get(i).getInputStream(), StandardCharsets.US_ASCII));
                assertThat(r.readLine()).isEqualTo("hello " + i);
            }
            assertThat(server.sessions("id1")).hasSize(1);
        } finally {
            for (Socket s : sockets) {
                s.close();
            }
        }
    }

    @Test
    void wrongSecretIsRefusedAndNothingIsExposed() throws Exception {
        int port = freePort();
        startServer(new TunnelServerConfig.PortRange(port, port));
        TunnelClient client = startClient("not-the-secret", 1, TunnelClientConfig.LocalService.tcp("echo", echo().address(), port));
        await().atMost(Duration.ofSeconds(10)).until(() -> server.handshakeFailures().getOrDefault("unknown_or_bad_secret", 0L) >= 1);
        assertThat(client.connectedTunnels()).isZero();
        assertThat(server.tunnelCount()).isZero();
        assertThat(server.exposedPorts("id1")).isEmpty();
    }

    @Test
    void aPortOutsideTheUsersRangeIsRefused() throws Exception {
        int allowed = freePort();
        startServer(new TunnelServerConfig.PortRange(allowed, allowed));
        int other = allowed == 65_535 ? allowed - 1 : allowed + 1;
        startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("echo", echo().address(), other));
        await().atMost(Duration.ofSeconds(10)).until(() -> server.handshakeFailures().getOrDefault("not_allowed", 0L) >= 1);
        assertThat(server.tunnelCount()).isZero();
    }

    @Test
    void garbageAndTruncatedHandshakesCloseOnlyThoseConnections() throws Exception {
        int port = freePort();
        startServer(new TunnelServerConfig.PortRange(port, port));
        Random random = new Random(7);
        for (int i = 0; i < 20; i++) {
            try (Socket s = new Socket("127.0.0.1", server.address().getPort())) {
                s.setSoTimeout(5_000);
                byte[] junk = new byte[1 + random.nextInt(4096)];
                random.nextBytes(junk);
                if (i % 4 == 0) { // a valid magic, then a length claiming more than the limit
                    junk = new byte[] {'T', 'T', 'U', 'N', 1, (byte) 0xff, (byte) 0xff, 1, 2, 3};
                } else if (i % 4 == 1) { // a valid magic, then a frame of JSON garbage
                    junk = new byte[] {'T', 'T', 'U', 'N', 1, 0, 3, '{', '{', '{'};
                }
                s.getOutputStream().write(junk);
                assertThat(drainUntilClosed(s.getInputStream())).as("the server closes a connection that is not a tunnel").isTrue();
            }
        }
        // a truncated handshake: the magic only, then silence until the handshake timeout would strike;
        // meanwhile a real client still gets its tunnel
        try (Socket half = new Socket("127.0.0.1", server.address().getPort())) {
            half.getOutputStream().write(new byte[] {'T', 'T', 'U'});
            TunnelClient client = startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("echo", echo().address(), port));
            await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 1);
            awaitExposed(port);
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(5_000);
                s.getOutputStream().write("still alive\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine())
                        .isEqualTo("still alive");
            }
        }
    }

    @Test
    void clientKilledIsDroppedAndReconnects() throws Exception {
        int port = freePort();
        startServer(new TunnelServerConfig.PortRange(port, port));
        TestServers.TcpServer local = echo();
        TunnelClient first = startClient(SECRET, 2, TunnelClientConfig.LocalService.tcp("echo", local.address(), port));
        await().atMost(Duration.ofSeconds(10)).until(() -> server.sessions("id1").size() == 2);
        first.close();
        await().atMost(Duration.ofSeconds(10)).alias("the server drops a closed client").until(() -> server.sessions("id1").isEmpty());
        await().atMost(Duration.ofSeconds(10)).alias("and stops exposing its port").until(() -> server.exposedPorts("id1").isEmpty());

        TunnelClient second = startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("echo", local.address(), port));
        await().atMost(Duration.ofSeconds(10)).until(() -> second.connectedTunnels() == 1);
        awaitExposed(port);
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write("again\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine()).isEqualTo("again");
        }
    }

    /**
     * Connections reset at either end mid-transfer are ordinary traffic, however many: each only
     * resets its stream. (With Netty's default limit of 200 RST_STREAM frames per 30 s the tunnel
     * itself was closed: iperf3 ending four streams with resets was enough.)
     */
    @Test
    void connectionsResetAtEitherEndMidTransferKeepTheTunnel() throws Exception {
        int sourcePort = freePort();
        int sinkPort = freePort();
        startServer(new TunnelServerConfig.PortRange(1024, 65_535));
        TestServers.TcpServer source = new TestServers.TcpServer("endless-source", s -> {
            byte[] chunk = new byte[64 << 10];
            OutputStream out = s.getOutputStream();
            while (true) {
                out.write(chunk); // until the user's reset reaches here
            }
        });
        closing.add(source);
        TestServers.TcpServer sink = new TestServers.TcpServer("resetting-sink", s -> {
            s.getInputStream().readNBytes(64 << 10);
            s.setSoLinger(true, 0); // reset while the user is still sending
        });
        closing.add(sink);
        TunnelClient client = startClient(SECRET, 1,
                TunnelClientConfig.LocalService.tcp("source", source.address(), sourcePort),
                TunnelClientConfig.LocalService.tcp("sink", sink.address(), sinkPort));
        await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 1);
        awaitExposed(sourcePort);
        awaitExposed(sinkPort);
        ServerSession tunnel = server.sessions("id1").getFirst();

        for (int i = 0; i < 300; i++) { // users reset: RST_STREAM from the server to the client
            try (Socket s = new Socket("127.0.0.1", sourcePort)) {
                s.setSoTimeout(5_000);
                assertThat(s.getInputStream().readNBytes(1 << 10)).hasSize(1 << 10);
                s.setSoLinger(true, 0);
            }
        }
        byte[] block = new byte[256 << 10];
        for (int i = 0; i < 40; i++) { // the local service resets: RST_STREAM from the client, and one per DATA frame in flight
            try (Socket s = new Socket("127.0.0.1", sinkPort)) {
                s.setSoTimeout(5_000);
                OutputStream out = s.getOutputStream();
                for (int j = 0; j < 16; j++) {
                    out.write(block);
                }
                s.getInputStream().read(); // the reset reaches the user as an end or a reset
            } catch (IOException expected) {
                // reset while writing or reading
            }
        }
        assertThat(server.sessions("id1")).as("the same tunnel carried every stream").containsExactly(tunnel);
        assertThat(tunnel.channel().isActive()).isTrue();
        try (Socket s = new Socket("127.0.0.1", sourcePort)) {
            s.setSoTimeout(5_000);
            assertThat(s.getInputStream().readNBytes(1 << 10)).as("the tunnel still carries new streams").hasSize(1 << 10);
        }
    }

    @Test
    void aStalledStreamDoesNotSlowAParallelOne() throws Exception {
        int stallPort = freePort();
        int echoPort = freePort();
        startServer(new TunnelServerConfig.PortRange(1024, 65_535));
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        TestServers.TcpServer stalled = neverReads(release);
        closing.add(stalled);
        closing.add(release::countDown);
        TunnelClient client = startClient(SECRET, 1,
                TunnelClientConfig.LocalService.tcp("stall", stalled.address(), stallPort),
                TunnelClientConfig.LocalService.tcp("echo", echo().address(), echoPort));
        await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 1);
        awaitExposed(stallPort);
        awaitExposed(echoPort);

        try (Socket stuck = new Socket("127.0.0.1", stallPort); Socket s = new Socket("127.0.0.1", echoPort)) {
            Thread writer = Thread.ofPlatform().daemon().start(() -> {
                try {
                    writeRandom(stuck.getOutputStream(), 256L << 20, 1); // blocks once every buffer on the way is full
                } catch (IOException e) {
                    // closed at the end of the test
                }
            });
            Thread.sleep(1000); // let the stalled stream fill its window and every buffer before it
            s.setSoTimeout(20_000);
            long size = 32L << 20;
            long start = System.nanoTime();
            CompletableFuture<Long> sent = CompletableFuture.supplyAsync(() -> {
                try {
                    return writeRandom(s.getOutputStream(), size, 2);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            long[] got = readAll(s.getInputStream(), size);
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertThat(got[0]).as("the parallel stream moved all its bytes while the other stalled").isEqualTo(size);
            assertThat(got[1]).isEqualTo(sent.get(20, TimeUnit.SECONDS));
            assertThat(writer.isAlive()).as("the stalled writer is still blocked: its stream is held by flow control").isTrue();
            assertThat(millis).as("32 MiB beside a stalled stream").isLessThan(20_000);
        }
        // the users are gone; the service reads again: both streams end before the tunnel is closed
        // (stopping loops under paused streams is shutdownWithPausedStreamsLeaksNothing's subject)
        release.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> client.activeStreams() == 0
                && server.allSessions().stream().allMatch(x -> x.activeStreams() == 0));
    }

    /**
     * A user that sends its request and half-closes, then reads slowly; the service answers with
     * more than the stream's window and closes. Both directions have ended while the end of the
     * answer still waits behind flow control: closing the stream then must not reset it, or the
     * user gets a truncated answer.
     */
    @Test
    void aBigAnswerAfterBothSidesEndedArrivesWhole() throws Exception {
        int port = freePort();
        startServer(new TunnelServerConfig.PortRange(port, port));
        long size = 16L << 20;
        TestServers.TcpServer answerer = new TestServers.TcpServer("answers-after-eof", s -> {
            s.getInputStream().transferTo(OutputStream.nullOutputStream()); // the request, to its end
            writeRandom(s.getOutputStream(), size, 6);
            s.shutdownOutput();
        });
        closing.add(answerer);
        TunnelClient client = startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("answerer", answerer.address(), port));
        await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 1);
        awaitExposed(port);
        for (int i = 0; i < 3; i++) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(20_000);
                s.getOutputStream().write("request".getBytes(StandardCharsets.US_ASCII));
                s.shutdownOutput();
                Thread.sleep(500); // the answer backs up into the tunnel
                assertThat(readAll(s.getInputStream(), size)[0]).as("answer %d arrived whole", i).isEqualTo(size);
            }
        }
    }

    /**
     * A stream reset by the server while the client's side of it is paused (its service reads
     * nothing, so DATA waits in the stream): the RST_STREAM must end the stream and the service's
     * connection now, not when the service reads again or the client's idle timeout strikes. The
     * server resets it when its own, shorter, idle timeout ends the user connection.
     */
    @Test
    void aResetEndsAPausedStreamAtOnce() throws Exception {
        int port = freePort();
        TunnelServerConfig cfg = new TunnelServerConfig(new InetSocketAddress("127.0.0.1", 0), "127.0.0.1",
                List.of(TunnelServerConfig.User.of("id1", SECRET, List.of(new TunnelServerConfig.PortRange(port, port)))),
                TunnelSettings.DEFAULTS, Duration.ofSeconds(2), null);
        server = new TunnelServer(cfg, transport);
        server.start();
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        CompletableFuture<String> serviceSaw = new CompletableFuture<>();
        TestServers.TcpServer sink = new TestServers.TcpServer("reads-late", s -> {
            try {
                release.await(60, TimeUnit.SECONDS);
                s.setSoTimeout(3_000);
                s.getInputStream().transferTo(OutputStream.nullOutputStream());
                serviceSaw.complete("end of stream");
            } catch (java.net.SocketTimeoutException e) {
                serviceSaw.complete("still open");
            } catch (IOException e) {
                serviceSaw.complete("reset");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        closing.add(sink);
        closing.add(release::countDown);
        TunnelClient client = startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("sink", sink.address(), port));
        await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 1);
        awaitExposed(port);
        await().atMost(Duration.ofSeconds(10)).until(() -> client.activeStreams() == 0); // the probe's, idle, is gone

        try (Socket user = new Socket("127.0.0.1", port)) {
            Thread writer = Thread.ofPlatform().daemon().start(() -> {
                try {
                    writeRandom(user.getOutputStream(), 64L << 20, 5);
                } catch (IOException e) {
                    // the server closes it
                }
            });
            await().atMost(Duration.ofSeconds(5)).until(() -> client.activeStreams() == 1);
            // the service's buffers, the stream's window and the user's buffers fill up; after 2 s
            // without progress the server closes the user and resets the stream
            long reset = System.nanoTime();
            await().atMost(Duration.ofSeconds(6)).alias("the reset ended the paused stream on the client")
                    .until(() -> client.activeStreams() == 0);
            assertThat(Duration.ofNanos(System.nanoTime() - reset)).as("well before the client's own idle timeout (1 min)")
                    .isLessThan(Duration.ofSeconds(10));
            release.countDown();
            assertThat(serviceSaw.get(10, TimeUnit.SECONDS)).as("the service's connection was closed too").isNotEqualTo("still open");
            writer.join(5_000);
        }
    }

    /**
     * Shutting down with streams paused in both directions (a user that reads nothing, a service
     * that reads nothing) while their bytes wait in the stream channels: nothing may leak, whichever
     * event loop goes first.
     */
    @Test
    void shutdownWithPausedStreamsLeaksNothing() throws Exception {
        int toUser = freePort();
        int toService = freePort();
        startServer(new TunnelServerConfig.PortRange(1024, 65_535));
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        TestServers.TcpServer talker = new TestServers.TcpServer("writes-only", s -> {
            try {
                writeRandom(s.getOutputStream(), 64L << 20, 3); // blocks: the user reads nothing
            } catch (IOException e) {
                // closed at the end
            }
        });
        TestServers.TcpServer sink = neverReads(release);
        TunnelClient client = startClient(SECRET, 1,
                TunnelClientConfig.LocalService.tcp("talker", talker.address(), toUser),
                TunnelClientConfig.LocalService.tcp("sink", sink.address(), toService));
        await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 1);
        awaitExposed(toUser);
        awaitExposed(toService);
        List<Socket> users = new ArrayList<>();
        List<Thread> writers = new ArrayList<>();
        try {
            for (int i = 0; i < 4; i++) { // on both event loops, most likely
                users.add(new Socket("127.0.0.1", toUser));
                Socket w = new Socket("127.0.0.1", toService);
                users.add(w);
                writers.add(Thread.ofPlatform().daemon().start(() -> {
                    try {
                        writeRandom(w.getOutputStream(), 64L << 20, 4);
                    } catch (IOException e) {
                        // closed at the end
                    }
                }));
            }
            Thread.sleep(1_000); // every window and socket buffer on the way fills up
            assertThat(client.activeStreams()).as("streams paused on the client").isPositive();
            client.close();
            server.close();
            assertThat(client.activeStreams()).as("the client's close ended its streams").isZero();
        } finally {
            for (Socket u : users) {
                u.close();
            }
            release.countDown();
            talker.close();
            sink.close();
        }
        for (Thread w : writers) {
            w.join(5_000);
        }
        // Stopping the loops while users and services still sent through paused streams left a
        // tunnel's buffers unreleased now and then (at shutdown only; seen in about 1 run of 10 of
        // this class). A likely cause, not proven: a close that one stopping loop sent to another
        // that had already ended, which Transport.close no longer allows (TransportTest). The loops
        // still stop after the users and services have gone: this test guards that the closes
        // release the queued frames.
        transport.close();
    }

    @Test
    void httpServiceThroughTheTunnelKeepAliveAndNot() throws Exception {
        int port = freePort();
        startServer(new TunnelServerConfig.PortRange(port, port));
        TestServers.TcpServer web = TestServers.http("web-behind-nat", 0);
        closing.add(web);
        TunnelClient client = startClient(SECRET, 2, TunnelClientConfig.LocalService.tcp("web", web.address(), port));
        await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 2);
        awaitExposed(port);

        java.net.http.HttpClient http = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1).build();
        java.net.URI uri = java.net.URI.create("http://127.0.0.1:" + port + "/");
        for (int i = 0; i < 300; i++) { // keep-alive: the JDK client reuses its connection
            java.net.http.HttpResponse<String> r = http.send(java.net.http.HttpRequest.newBuilder(uri).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("web-behind-nat");
        }
        for (int i = 0; i < 200; i++) { // a new connection (and stream) per request
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(5_000);
                s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                assertThat(response).startsWith("HTTP/1.1 200").endsWith("web-behind-nat");
            }
        }
        assertThat(server.streamsTotal()).isGreaterThanOrEqualTo(200);
        // replicas share load by least active streams: 20 held connections split evenly over the two tunnels
        List<Socket> held = new ArrayList<>();
        try {
            for (int i = 0; i < 20; i++) {
                Socket s = new Socket("127.0.0.1", port);
                held.add(s);
                s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                s.getInputStream().read(new byte[256]); // answered: its stream is open and counted
            }
            List<ServerSession> replicas = server.sessions("id1");
            assertThat(replicas).hasSize(2);
            assertThat(Math.abs(replicas.get(0).activeStreams() - replicas.get(1).activeStreams()))
                    .as("active streams per replica: %d and %d", replicas.get(0).activeStreams(), replicas.get(1).activeStreams())
                    .isLessThanOrEqualTo(2);
        } finally {
            for (Socket s : held) {
                s.close();
            }
        }
    }

    /**
     * Two replicas (two client processes with one id) share the load; one dies without a word (its
     * sockets reset). Once the server has seen it go, every new request goes to the survivor and
     * none fails; requests in flight on the dead replica at that moment die with it.
     */
    @Test
    void twoReplicasShareLoadAndOneDyingLosesNoNewRequest() throws Exception {
        int port = freePort();
        startServer(new TunnelServerConfig.PortRange(port, port));
        TestServers.TcpServer web = TestServers.http("replicated", 0);
        closing.add(web);
        TunnelClientConfig.LocalService svc = TunnelClientConfig.LocalService.tcp("web", web.address(), port);
        TunnelClient a = startClient(SECRET, 1, svc);
        startClient(SECRET, 1, svc); // the replica that survives
        await().atMost(Duration.ofSeconds(10)).until(() -> server.sessions("id1").size() == 2);
        awaitExposed(port);
        List<ServerSession> replicas = List.copyOf(server.sessions("id1"));

        java.util.concurrent.atomic.AtomicLong detectedAt = new java.util.concurrent.atomic.AtomicLong(Long.MAX_VALUE);
        java.util.concurrent.ConcurrentLinkedQueue<String> lostAfter = new java.util.concurrent.ConcurrentLinkedQueue<>();
        java.util.concurrent.atomic.AtomicLong lostInFlight = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicLong ok = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        List<Thread> load = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            load.add(Thread.ofPlatform().start(() -> {
                while (!stop.get()) {
                    long started = System.nanoTime();
                    String result;
                    try (Socket s = new Socket("127.0.0.1", port)) {
                        s.setSoTimeout(5_000);
                        s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                        String r = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                        result = r.startsWith("HTTP/1.1 200") && r.endsWith("replicated") ? null : r.lines().findFirst().orElse("empty response");
                    } catch (IOException e) {
                        result = e.toString();
                    }
                    if (result == null) {
                        ok.incrementAndGet();
                    } else if (started > detectedAt.get()) {
                        lostAfter.add(result);
                    } else {
                        lostInFlight.incrementAndGet();
                    }
                }
            }));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> ok.get() > 200);
        assertThat(replicas).as("both replicas took streams").allMatch(r -> r.streamsOpened() > 20);
        a.abort();
        await().atMost(Duration.ofSeconds(10)).alias("the server notices the dead replica").until(() -> server.sessions("id1").size() == 1);
        detectedAt.set(System.nanoTime());
        long atDetection = ok.get();
        Thread.sleep(1_500);
        stop.set(true);
        for (Thread t : load) {
            t.join(10_000);
        }
        assertThat(lostAfter).as("requests started after the server saw the replica die").isEmpty();
        assertThat(ok.get() - atDetection).as("the survivor served the new requests").isGreaterThan(50);
        assertThat(lostInFlight.get()).as("in flight on the dead replica: at most one per load thread").isLessThanOrEqualTo(4);
    }

    /**
     * Two replicas share a mapped port; one cannot reach its local service. Every connection is
     * served by the other, with its first bytes intact: those sent while the broken replica was
     * being tried wait for the stream that works. After its refusal the broken replica is avoided,
     * so later connections do not pay a round trip to it.
     */
    @Test
    void aReplicaThatCannotReachItsServicePassesTheConnectionToAnother() throws Exception {
        int port = freePort();
        startServer(new TunnelServerConfig.PortRange(port, port));
        io.micrometer.core.instrument.simple.SimpleMeterRegistry registry = serverMetrics();
        InetSocketAddress nothingThere = new InetSocketAddress("127.0.0.1", freePort());
        startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("svc", nothingThere, port));
        startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("svc", echo().address(), port));
        await().atMost(Duration.ofSeconds(10)).until(() -> server.sessions("id1").size() == 2);
        awaitExposed(port);
        long openedBefore = server.sessions("id1").stream().mapToLong(ServerSession::streamsOpened).sum();
        int connections = 30;
        for (int i = 0; i < connections; i++) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(5_000);
                byte[] ping = ("ping " + i + "\n").getBytes(StandardCharsets.US_ASCII);
                s.getOutputStream().write(ping);
                assertThat(s.getInputStream().readNBytes(ping.length)).as("connection %d", i).isEqualTo(ping);
            }
        }
        long opened = server.sessions("id1").stream().mapToLong(ServerSession::streamsOpened).sum() - openedBefore;
        double redispatched = registry.get("titan_tunnel_streams_redispatched").tag("client", "id1").functionCounter().count();
        assertThat(redispatched).as("the broken replica was tried (the readiness probe may have met it first)").isGreaterThanOrEqualTo(1);
        assertThat(opened - connections).as("streams the broken replica refused: then it is avoided for a while (1 s, then 2 s)").isLessThanOrEqualTo(3);
    }

    /**
     * A replica that never answers (here its local connect hangs: the service's accept queue is
     * full, and its dial timeout is longer than the server's open_timeout) holds a new stream only
     * for the open timeout; then the stream goes to the other replica, first bytes intact.
     */
    @Test
    void aReplicaThatDoesNotAnswerInTimePassesTheConnectionToAnother() throws Exception {
        int port = freePort();
        TunnelSettings d = TunnelSettings.DEFAULTS;
        TunnelSettings quick = new TunnelSettings(d.streamWindow(), d.connectionWindow(), d.maxFrameSize(), d.maxStreams(),
                d.pingInterval(), d.pingTimeout(), d.handshakeTimeout(), d.maxPendingOpens(), Duration.ofMillis(300));
        server = new TunnelServer(new TunnelServerConfig(new InetSocketAddress("127.0.0.1", 0), "127.0.0.1",
                List.of(TunnelServerConfig.User.of("id1", SECRET, List.of(new TunnelServerConfig.PortRange(port, port)))), quick,
                Duration.ofMinutes(1), null), transport);
        server.start();
        io.micrometer.core.instrument.simple.SimpleMeterRegistry registry = serverMetrics();
        try (ServerSocket full = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
             Socket q1 = new Socket("127.0.0.1", full.getLocalPort()); Socket q2 = new Socket("127.0.0.1", full.getLocalPort())) {
            startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("svc", (InetSocketAddress) full.getLocalSocketAddress(), port));
            startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("svc", echo().address(), port));
            await().atMost(Duration.ofSeconds(10)).until(() -> server.sessions("id1").size() == 2);
            awaitExposed(port);
            Thread.sleep(1_500); // the readiness probe may have met the silent replica: let its 1 s pause pass
            for (int i = 0; i < 4; i++) {
                long start = System.nanoTime();
                try (Socket s = new Socket("127.0.0.1", port)) {
                    s.setSoTimeout(5_000);
                    byte[] ping = ("ping " + i + "\n").getBytes(StandardCharsets.US_ASCII);
                    s.getOutputStream().write(ping);
                    assertThat(s.getInputStream().readNBytes(ping.length)).as("connection %d", i).isEqualTo(ping);
                }
                assertThat(Duration.ofNanos(System.nanoTime() - start)).as("connection %d: the open timeout, not the client's 5 s dial timeout", i)
                        .isLessThan(Duration.ofSeconds(2));
            }
        }
        assertThat(registry.get("titan_tunnel_streams_redispatched").tag("client", "id1").functionCounter().count())
                .as("the silent replica was tried, then passed over").isGreaterThanOrEqualTo(1);
    }

    /**
     * A client making many local connections at once refuses streams beyond max_pending_opens:
     * a local service whose accept queue is full leaves connects hanging, and the extra users are
     * closed at once instead of piling up.
     */
    @Test
    void streamsBeyondMaxPendingOpensAreRefused() throws Exception {
        int port = freePort();
        startServer(new TunnelServerConfig.PortRange(port, port));
        try (ServerSocket full = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
             Socket q1 = new Socket("127.0.0.1", full.getLocalPort()); Socket q2 = new Socket("127.0.0.1", full.getLocalPort())) {
            // never accepts: with its queue full, further SYNs go unanswered and connects hang
            TunnelSettings s = TunnelSettings.DEFAULTS;
            TunnelSettings limited = new TunnelSettings(s.streamWindow(), s.connectionWindow(), s.maxFrameSize(), s.maxStreams(),
                    s.pingInterval(), s.pingTimeout(), s.handshakeTimeout(), 2, s.openTimeout());
            TunnelClientConfig base = TunnelClientConfig.of(server.address(), "id1", SECRET, 1,
                    List.of(TunnelClientConfig.LocalService.tcp("stuck", (InetSocketAddress) full.getLocalSocketAddress(), port)));
            TunnelClient c = new TunnelClient(new TunnelClientConfig(base.servers(), base.id(), base.secret(), 1, base.services(), Map.of(),
                    limited, Duration.ofSeconds(20), base.idleTimeout(), null), transport);
            closing.add(c);
            c.start();
            // no probe connection here: like any user's, its stream would wait for the hanging connect
            List<Socket> users = new ArrayList<>();
            try {
                await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> users.add(new Socket("127.0.0.1", port)));
                users.add(new Socket("127.0.0.1", port));
                await().atMost(Duration.ofSeconds(5)).alias("the users' two streams pend")
                        .until(() -> server.sessions("id1").getFirst().activeStreams() == 2);
                try (Socket extra = new Socket("127.0.0.1", port)) {
                    extra.setSoTimeout(5_000);
                    long start = System.nanoTime();
                    assertThat(extra.getInputStream().read()).as("the stream beyond the limit ends at once").isEqualTo(-1);
                    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
                }
                for (Socket u : users) {
                    u.setSoTimeout(300);
                    assertThatThrownBy(() -> u.getInputStream().read()).as("the pending ones still wait")
                            .isInstanceOf(java.net.SocketTimeoutException.class);
                }
            } finally {
                for (Socket u : users) {
                    u.close();
                }
            }
        }
    }

    /** A user's max_connections counts its open user connections over all its tunnels; the next one is closed at once (HTTP: 503). */
    @Test
    void aUserAtMaxConnectionsGetsNoMore() throws Exception {
        int port = freePort();
        startServer(TunnelServerConfig.User.of("id1", SECRET, List.of(new TunnelServerConfig.PortRange(port, port))).withLimits(2, 0, 0));
        TestServers.TcpServer web = TestServers.http("limited", 0);
        closing.add(web);
        TunnelClient c = startClient(SECRET, 2, TunnelClientConfig.LocalService.tcp("echo", echo().address(), port),
                TunnelClientConfig.LocalService.http("web", web.address(), List.of()));
        await().atMost(Duration.ofSeconds(10)).until(() -> c.connectedTunnels() == 2);
        awaitExposed(port);
        await().atMost(Duration.ofSeconds(5)).until(() -> server.sessions("id1").stream().mapToInt(ServerSession::activeStreams).sum() == 0);
        try (Socket a = new Socket("127.0.0.1", port); Socket b = new Socket("127.0.0.1", port)) {
            for (Socket x : List.of(a, b)) { // both served
                x.setSoTimeout(5_000);
                x.getOutputStream().write("hi\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(new BufferedReader(new InputStreamReader(x.getInputStream(), StandardCharsets.US_ASCII)).readLine()).isEqualTo("hi");
            }
            try (Socket third = new Socket("127.0.0.1", port)) {
                third.setSoTimeout(5_000);
                assertThat(third.getInputStream().read()).as("the third connection is closed").isEqualTo(-1);
            }
            try (Socket http = new Socket("127.0.0.1", server.address().getPort())) {
                http.setSoTimeout(5_000);
                http.getOutputStream().write("GET / HTTP/1.1\r\nHost: id1.localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(new String(http.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 503");
            }
        }
        await().atMost(Duration.ofSeconds(5)).alias("closed connections free their places").untilAsserted(() -> {
            try (Socket again = new Socket("127.0.0.1", port)) {
                again.setSoTimeout(2_000);
                again.getOutputStream().write("again\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(new BufferedReader(new InputStreamReader(again.getInputStream(), StandardCharsets.US_ASCII)).readLine()).isEqualTo("again");
            }
        });
    }

    /**
     * A user's bandwidth limit holds for all its connections together: 3 MB from its service at
     * 1 MB/s take about 3 s, whether over one connection or two. (A limit is checked here, not a
     * speed: the bound is the least time the limit allows, 3 MB less the burst of 100 kB and one
     * stream window of 1 MiB that a stream may deliver ahead of it.)
     */
    @Test
    void aUsersBandwidthLimitIsSharedByItsConnections() throws Exception {
        int port = freePort();
        startServer(TunnelServerConfig.User.of("id1", SECRET, List.of(new TunnelServerConfig.PortRange(port, port)))
                .withLimits(0, 0, 1_000_000));
        TestServers.TcpServer source = new TestServers.TcpServer("source", sock -> {
            int size = Integer.parseInt(new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.US_ASCII)).readLine());
            sock.getOutputStream().write(new byte[size]);
            sock.shutdownOutput();
            sock.getInputStream().read();
        });
        closing.add(source);
        TunnelClient c = startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("source", source.address(), port));
        await().atMost(Duration.ofSeconds(10)).until(() -> c.connectedTunnels() == 1);
        awaitExposed(port);
        for (int connections : new int[] {1, 2}) {
            Thread.sleep(300); // the burst refills
            int each = 3_000_000 / connections;
            long start = System.nanoTime();
            List<CompletableFuture<Integer>> reads = new ArrayList<>();
            for (int i = 0; i < connections; i++) {
                reads.add(CompletableFuture.supplyAsync(() -> {
                    try (Socket s = new Socket("127.0.0.1", port)) {
                        s.setSoTimeout(20_000);
                        s.getOutputStream().write((each + "\n").getBytes(StandardCharsets.US_ASCII));
                        return s.getInputStream().readAllBytes().length;
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                }));
            }
            for (CompletableFuture<Integer> r : reads) {
                assertThat(r.get(30, TimeUnit.SECONDS)).isEqualTo(each);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(seconds).as("3 MB at 1 MB/s over %d connection(s)", connections).isGreaterThan(1.8).isLessThan(15);
        }
    }

    @Test
    void metricsCountTunnelsStreamsBytesAndRefusals() throws Exception {
        int port = freePort();
        startServer(new TunnelServerConfig.PortRange(port, port));
        io.micrometer.core.instrument.simple.SimpleMeterRegistry registry = serverMetrics();
        TunnelClient client = startClient(SECRET, 2, TunnelClientConfig.LocalService.tcp("echo", echo().address(), port));
        client.bindMetrics(registry);
        await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 2);
        awaitExposed(port);
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write(new byte[1000]);
            assertThat(s.getInputStream().readNBytes(1000)).hasSize(1000);
        }
        startClient("bad-secret-here", 1);
        await().atMost(Duration.ofSeconds(10)).until(() ->
                registry.get("titan_tunnel_handshake_failures").tag("reason", "unknown_or_bad_secret").functionCounter().count() >= 1);
        assertThat(registry.get("titan_tunnel_connected").tag("client", "id1").gauge().value()).isEqualTo(2);
        assertThat(registry.get("titan_tunnel_client_connected").gauge().value()).isEqualTo(2);
        assertThat(registry.get("titan_tunnel_streams").tag("client", "id1").functionCounter().count())
                .as("the readiness probe's stream and the transfer's").isEqualTo(2);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(registry.get("titan_tunnel_bytes").tags("client", "id1", "direction", "to_client").functionCounter().count())
                    .isEqualTo(1000);
            assertThat(registry.get("titan_tunnel_bytes").tags("client", "id1", "direction", "from_client").functionCounter().count())
                    .isEqualTo(1000);
        });
    }

    @Test
    void replacingTheClientUnderLoadLosesNoRequest() throws Exception {
        int port = freePort();
        startServer(new TunnelServerConfig.PortRange(port, port));
        TestServers.TcpServer web = TestServers.http("web", 0);
        closing.add(web);
        TunnelClient old = startClient(SECRET, 2, TunnelClientConfig.LocalService.tcp("web", web.address(), port));
        await().atMost(Duration.ofSeconds(10)).until(() -> old.connectedTunnels() == 2);
        awaitExposed(port);

        java.util.concurrent.atomic.AtomicLong ok = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.ConcurrentLinkedQueue<String> errors = new java.util.concurrent.ConcurrentLinkedQueue<>();
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        List<Thread> load = new ArrayList<>();
        for (int t = 0; t < 4; t++) { // a new connection (and stream) per request
            load.add(Thread.ofPlatform().start(() -> {
                while (!stop.get()) {
                    try (Socket s = new Socket("127.0.0.1", port)) {
                        s.setSoTimeout(5_000);
                        s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                        String r = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                        if (r.startsWith("HTTP/1.1 200") && r.endsWith("web")) {
                            ok.incrementAndGet();
                        } else {
                            errors.add("bad response: " + r);
                        }
                    } catch (IOException e) {
                        errors.add(e.toString());
                    }
                }
            }));
        }
        load.add(Thread.ofPlatform().start(() -> { // and one keep-alive connection that goes on across the reload
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(5_000);
                InputStream in = s.getInputStream();
                while (!stop.get()) {
                    s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    if (readResponseBody(in).equals("web")) {
                        ok.incrementAndGet();
                    } else {
                        errors.add("keep-alive: bad response");
                    }
                }
            } catch (IOException e) {
                errors.add("keep-alive: " + e);
            }
        }));
        Thread.sleep(1000);
        TunnelClient fresh = startClient(SECRET, 2, TunnelClientConfig.LocalService.tcp("web", web.address(), port));
        await().atMost(Duration.ofSeconds(10)).until(() -> fresh.connectedTunnels() == 2);
        CompletableFuture<Void> drained = old.drain(Duration.ofSeconds(30));
        Thread.sleep(1500); // new connections now go to the fresh tunnels; the old ones finish what they carry
        stop.set(true);
        for (Thread t : load) {
            t.join(10_000);
        }
        drained.get(20, TimeUnit.SECONDS);
        assertThat(errors).as("requests failed during the reload").isEmpty();
        assertThat(ok.get()).isGreaterThan(100);
        assertThat(old.connectedTunnels()).isZero();
        await().atMost(Duration.ofSeconds(5)).until(() -> server.sessions("id1").size() == 2);
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

    @Test
    void proxyProtocolTellsTheServiceWhoConnected() throws Exception {
        int v1Port = freePort();
        int v2Port = freePort();
        startServer(new TunnelServerConfig.PortRange(1024, 65_535));
        java.util.concurrent.BlockingQueue<String> seen = new java.util.concurrent.LinkedBlockingQueue<>();
        TestServers.TcpServer v1 = new TestServers.TcpServer("v1", sock -> {
            StringBuilder line = new StringBuilder();
            for (int b; (b = sock.getInputStream().read()) >= 0 && b != '\n'; ) {
                line.append((char) b);
            }
            seen.add(line.toString().trim());
            sock.getOutputStream().write("ok\n".getBytes(StandardCharsets.US_ASCII));
        });
        TestServers.TcpServer v2 = new TestServers.TcpServer("v2", sock -> {
            byte[] head = sock.getInputStream().readNBytes(16);
            int len = ((head[14] & 0xff) << 8) | (head[15] & 0xff);
            java.nio.ByteBuffer addr = java.nio.ByteBuffer.wrap(sock.getInputStream().readNBytes(len));
            byte[] src = new byte[4];
            byte[] dst = new byte[4];
            addr.get(src).get(dst);
            seen.add(String.format("v2 ver/cmd=%02x fam=%02x %s:%d -> %s:%d", head[12], head[13],
                    java.net.InetAddress.getByAddress(src).getHostAddress(), addr.getShort() & 0xffff,
                    java.net.InetAddress.getByAddress(dst).getHostAddress(), addr.getShort() & 0xffff));
            sock.getOutputStream().write("ok\n".getBytes(StandardCharsets.US_ASCII));
        });
        closing.add(v1);
        closing.add(v2);
        TunnelClient client = startClient(SECRET, 1,
                TunnelClientConfig.LocalService.tcp("v1", v1.address(), v1Port).withProxyProtocol("v1"),
                TunnelClientConfig.LocalService.tcp("v2", v2.address(), v2Port).withProxyProtocol("v2"));
        await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 1);
        awaitExposed(v1Port);
        awaitExposed(v2Port);
        for (int port : new int[] {v1Port, v2Port}) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(5_000);
                s.getOutputStream().write("x".getBytes(StandardCharsets.US_ASCII));
                assertThat(new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine()).isEqualTo("ok");
                int userPort = s.getLocalPort();
                String expected = port == v1Port ? "PROXY TCP4 127.0.0.1 127.0.0.1 " + userPort + " " + v1Port
                        : "v2 ver/cmd=21 fam=11 127.0.0.1:" + userPort + " -> 127.0.0.1:" + v2Port;
                List<String> headers = new ArrayList<>(); // readiness probes' headers may arrive too: ours must be among them
                for (String h; !headers.contains(expected) && (h = seen.poll(2, TimeUnit.SECONDS)) != null; ) {
                    headers.add(h);
                }
                assertThat(headers).as("PROXY headers the service received").contains(expected);
            }
        }
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
