package dev.titan.overlay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.titan.core.net.Transport;
import dev.titan.core.store.Store;
import dev.titan.core.testing.TestServers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Routing by label and sticky sessions with real edges and curl: which edge carried each connection is counted at the edges. */
class OverlayRoutingTest {
    private static final String SECRET = "edge-secret-for-tests";
    private static final String PASSWORD = "alice-pw";

    private Transport transport;
    private TestServers.TcpServer backend;
    private Pop pop;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        transport = Transport.create(Transport.Kind.NIO, 2);
        backend = TestServers.http("hello", 0);
        pop = OverlayFixture.startPop(OverlayFixture.config(false, true, false,
                List.of(OverlayFixture.user("alice", PASSWORD, Store.Limits.NONE)), Pop.ZeroRtt.OFF, null, "e1", "e2", "e3"), transport, closing);
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        backend.close();
        transport.close();
    }

    private Edge edge(String id, String country) {
        Edge e = OverlayFixture.startEdge(pop, id, Map.of("country", country), List.of("127.0.0.0/8"), transport, closing);
        // routable once the edge cluster's selector has taken it in (evaluated every second)
        await().atMost(Duration.ofSeconds(10)).until(() -> pop.edges().sharedCluster().active().stream()
                .anyMatch(ep -> id.equals(ep.labels().get("id"))));
        return e;
    }

    /** curl through the HTTP proxy as {@code username}; returns the status code and the Proxy-Status header, if any. */
    private String curl(String username) throws Exception {
        Process p = new ProcessBuilder("curl", "-s", "--max-time", "10", "-o", "/dev/null", "-D", "-", "-x",
                "http://127.0.0.1:" + pop.address("http_proxy").getPort(), "--proxy-user", username + ":" + PASSWORD,
                "http://127.0.0.1:" + backend.port() + "/").start();
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        String head = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        String status = head.isEmpty() ? "none" : head.substring(9, 12);
        String proxyStatus = head.lines().filter(l -> l.toLowerCase().startsWith("proxy-status:")).findFirst().orElse("");
        return status + " " + proxyStatus;
    }

    @Test
    void labelsChooseTheEdgeAndAFilterWithNoEdgeSaysWhich() throws Exception {
        Edge us = edge("e1", "us");
        Edge de = edge("e3", "de");
        for (int i = 0; i < 3; i++) {
            assertThat(curl("alice-country-de")).startsWith("200");
        }
        assertThat(de.streamsServed()).isEqualTo(3);
        assertThat(us.streamsServed()).isZero();
        assertThat(curl("alice-edge-e1")).startsWith("200");
        assertThat(us.streamsServed()).isEqualTo(1);
        assertThat(curl("alice-country-fr")).startsWith("503").contains("details=\"no edge country=fr\"");
        assertThat(curl("alice-colour-red")).as("an unknown parameter is refused, with its name").startsWith("407");
    }

    @Test
    void aStickySessionKeepsItsEdgeAndWhenItGoesFlexMovesAndStrictFails() throws Exception {
        Edge first = edge("e1", "us");
        edge("e3", "de");
        for (int i = 0; i < 3; i++) {
            assertThat(curl("alice-country-us-session-flex1")).startsWith("200");
            assertThat(curl("alice-country-us-session-strict1-sessmode-strict")).startsWith("200");
        }
        assertThat(first.streamsServed()).isEqualTo(6);
        Edge second = edge("e2", "us");
        for (int i = 0; i < 3; i++) {
            assertThat(curl("alice-country-us-session-flex1")).as("sticky while its edge lives").startsWith("200");
        }
        assertThat(first.streamsServed()).isEqualTo(9);
        assertThat(second.streamsServed()).isZero();

        first.close();
        await().atMost(Duration.ofSeconds(10)).until(() -> pop.edges().sessions("e1").isEmpty());
        assertThat(curl("alice-country-us-session-flex1")).as("flex: the same session on another us edge").startsWith("200");
        assertThat(second.streamsServed()).isEqualTo(1);
        assertThat(curl("alice-country-us-session-strict1-sessmode-strict")).startsWith("503").contains("session strict1")
                .contains("e1").contains("strict");
        assertThat(curl("alice-country-us-session-other")).as("a new session takes the live edge").startsWith("200");
    }
}
