package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import dev.titan.core.net.Transport;
import dev.titan.core.testing.TestServers;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/** Who gets a tunnel: wrong secrets, ports outside a user's range and garbage are refused without harm; a killed client is dropped, its port closed, and it comes back. */
@ParameterizedClass(name = "{0}")
@MethodSource("dev.titan.tunnel.TunnelFixture#transports")
class TunnelAdmissionTest extends TunnelFixture {
    TunnelAdmissionTest(Transport.Kind kind) {
        super(kind);
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
                    junk = new byte[] {'T', 'T', 'U', 'N', TunnelProtocol.VERSION, (byte) 0xff, (byte) 0xff, 1, 2, 3};
                } else if (i % 4 == 1) { // a valid magic, then a frame of JSON garbage
                    junk = new byte[] {'T', 'T', 'U', 'N', TunnelProtocol.VERSION, 0, 3, '{', '{', '{'};
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
}
