package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import dev.titan.core.net.Transport;
import dev.titan.core.testing.TestServers;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/** Replicas of one client id as a cluster: load shared; a dying, refusing or silent replica loses no request; a client replaced under load loses none. */
@ParameterizedClass(name = "{0}")
@MethodSource("dev.titan.tunnel.TunnelFixture#transports")
class TunnelReplicasTest extends TunnelFixture {
    TunnelReplicasTest(Transport.Kind kind) {
        super(kind);
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
}
