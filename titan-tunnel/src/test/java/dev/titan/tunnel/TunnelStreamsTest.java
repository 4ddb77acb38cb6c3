package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import dev.titan.core.net.Transport;
import dev.titan.core.testing.TestServers;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/** Bytes through tunnel streams: intact both ways, many at once, resets and stalls at either end, half-closed and paused streams, HTTP keep-alive, the PROXY protocol. */
@ParameterizedClass(name = "{0}")
@MethodSource("dev.titan.tunnel.TunnelFixture#transports")
class TunnelStreamsTest extends TunnelFixture {
    TunnelStreamsTest(Transport.Kind kind) {
        super(kind);
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

    /**
     * Connections reset at either end mid-transfer are ordinary traffic, however many: each only
     * resets its stream, however many RESET frames that takes (a limit on them, as public HTTP/2
     * servers keep, closed the whole tunnel when iperf3 ended four streams with resets).
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

        for (int i = 0; i < 300; i++) { // users reset: RESET from the server to the client
            try (Socket s = new Socket("127.0.0.1", sourcePort)) {
                s.setSoTimeout(5_000);
                assertThat(s.getInputStream().readNBytes(1 << 10)).hasSize(1 << 10);
                s.setSoLinger(true, 0);
            }
        }
        byte[] block = new byte[256 << 10];
        for (int i = 0; i < 40; i++) { // the local service resets: RESET from the client
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
     * nothing, so DATA waits in the stream): the RESET must end the stream and the service's
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

    @Test
    void proxyProtocolTellsTheServiceWhoConnected() throws Exception {
        int v1Port = freePort();
        int v2Port = freePort();
        startServer(new TunnelServerConfig.PortRange(1024, 65_535));
        java.util.concurrent.BlockingQueue<String> seen = new java.util.concurrent.LinkedBlockingQueue<>();
        TestServers.TcpServer v1 = proxyLineService(seen);
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

    /**
     * A server whose clients are an overlay's edges (one shared cluster) does not tell a stream's
     * client who connected: an edge makes the user's connection without learning the user's
     * address. A service behind such a client that asks for the PROXY protocol gets PROXY UNKNOWN.
     */
    @Test
    void anOverlaysEdgesAreNotToldWhoConnected() throws Exception {
        int port = freePort();
        startServer(TunnelServerConfig.User.of("id1", SECRET, List.of(new TunnelServerConfig.PortRange(port, port))), "edges");
        java.util.concurrent.BlockingQueue<String> seen = new java.util.concurrent.LinkedBlockingQueue<>();
        TestServers.TcpServer v1 = proxyLineService(seen);
        closing.add(v1);
        TunnelClient client = startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("v1", v1.address(), port).withProxyProtocol("v1"));
        await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 1);
        awaitExposed(port);
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write("x".getBytes(StandardCharsets.US_ASCII));
            assertThat(new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine()).isEqualTo("ok");
        }
        List<String> headers = new ArrayList<>(); // a readiness probe's header may arrive too
        for (String h; (h = seen.poll(1, TimeUnit.SECONDS)) != null; ) {
            headers.add(h);
        }
        assertThat(headers).as("PROXY headers the service received").isNotEmpty().allMatch(h -> h.equals("PROXY UNKNOWN"));
    }

    /** A service that takes a PROXY protocol v1 line, notes it in {@code seen} and answers "ok". */
    private static TestServers.TcpServer proxyLineService(java.util.concurrent.BlockingQueue<String> seen) throws IOException {
        return new TestServers.TcpServer("v1", sock -> {
            StringBuilder line = new StringBuilder();
            for (int b; (b = sock.getInputStream().read()) >= 0 && b != '\n'; ) {
                line.append((char) b);
            }
            seen.add(line.toString().trim());
            sock.getOutputStream().write("ok\n".getBytes(StandardCharsets.US_ASCII));
        });
    }
}
