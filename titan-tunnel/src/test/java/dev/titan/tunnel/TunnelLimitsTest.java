package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import dev.titan.core.net.Transport;
import dev.titan.core.testing.TestServers;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/** Limits and meters per tunnel user: pending opens, max_connections, shared bandwidth, and the metrics that count them. */
@ParameterizedClass(name = "{0}")
@MethodSource("dev.titan.tunnel.TunnelFixture#transports")
class TunnelLimitsTest extends TunnelFixture {
    TunnelLimitsTest(Transport.Kind kind) {
        super(kind);
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

    /** The store knows the client as a node while it is connected, and adds up its user's usage, whichever port carried it. */
    @Test
    void theStoreKeepsTheNodeAndItsUsage() throws Exception {
        int port = freePort();
        startServer(new TunnelServerConfig.PortRange(port, port));
        assertThat(server.store().user("id1").secretEquals(SECRET.getBytes(StandardCharsets.UTF_8))).isTrue();
        assertThat(server.store().node("id1")).as("not seen yet").isNull();
        TunnelClient client = startClient(SECRET, 1, TunnelClientConfig.LocalService.tcp("echo", echo().address(), port));
        await().atMost(Duration.ofSeconds(10)).until(() -> client.connectedTunnels() == 1);
        awaitExposed(port);
        assertThat(server.store().node("id1").connected()).isTrue();
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write(new byte[3000]);
            assertThat(s.getInputStream().readNBytes(3000)).hasSize(3000);
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(server.store().usage("id1").bytesIn.sum()).isEqualTo(3000);
            assertThat(server.store().usage("id1").bytesOut.sum()).isEqualTo(3000);
        });
        assertThat(server.store().usage("id1").connections.sum()).as("every stream of the user, the readiness probe's too")
                .isEqualTo(server.streamsTotal()).isPositive();
        client.close();
        await().atMost(Duration.ofSeconds(10)).until(() -> !server.store().node("id1").connected());
    }
}
