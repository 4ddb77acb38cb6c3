package dev.titan.overlay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.titan.core.net.Transport;
import dev.titan.core.store.Store;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The edge's egress policy against a private address that exists: a network namespace this test
 * makes, joined to this one by a veth pair (10.250.0.1 here, 10.250.0.2 there), with an HTTP
 * listener inside. The default policy refuses it and no connection reaches the listener; allowed,
 * the same request gets through (so the refusal was the policy's). Needs root (ip netns).
 */
class EgressNamespaceTest {
    private static final String PRIVATE = "10.250.0.2";

    private final String ns = "titan-egress-" + ProcessHandle.current().pid();
    private final String veth = "tv" + (ProcessHandle.current().pid() % 100_000);
    private Transport transport;
    private Process listener;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @TempDir
    Path dir;

    private static int run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor(20, TimeUnit.SECONDS) ? p.exitValue() : -1;
    }

    @BeforeEach
    void setUp() throws Exception {
        Assumptions.assumeTrue(run("ip", "netns", "add", ns) == 0, "ip netns is not available here (needs root)");
        assertThat(run("ip", "link", "add", veth + "a", "type", "veth", "peer", "name", veth + "b", "netns", ns)).isZero();
        assertThat(run("ip", "addr", "add", "10.250.0.1/30", "dev", veth + "a")).isZero();
        assertThat(run("ip", "link", "set", veth + "a", "up")).isZero();
        assertThat(run("ip", "netns", "exec", ns, "ip", "addr", "add", PRIVATE + "/30", "dev", veth + "b")).isZero();
        assertThat(run("ip", "netns", "exec", ns, "ip", "link", "set", veth + "b", "up")).isZero();
        assertThat(run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")).isZero();
        Path hits = dir.resolve("hits");
        Files.writeString(hits, "");
        // inside the namespace: answer every connection with a small HTTP response and note it
        listener = new ProcessBuilder("ip", "netns", "exec", ns, "python3", "-c", """
                import socket, sys
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("%s", 8080)); s.listen(16)
                while True:
                    c, a = s.accept()
                    open(sys.argv[1], "a").write("hit\\n")
                    c.recv(4096)
                    c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 9\\r\\nConnection: close\\r\\n\\r\\nnamespace")
                    c.close()
                """.formatted(PRIVATE), hits.toString()).redirectErrorStream(true).start();
        transport = Transport.create(Transport.Kind.NIO, 2);
        await().atMost(Duration.ofSeconds(10)).until(() -> run("ip", "netns", "exec", ns, "python3", "-c",
                "import socket; socket.create_connection(('" + PRIVATE + "', 8080), 1).close()") == 0);
        Files.writeString(hits, ""); // the readiness probe's own hit
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        if (listener != null) {
            listener.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
        if (transport != null) {
            transport.close();
        }
        run("ip", "link", "del", veth + "a");
        run("ip", "netns", "del", ns);
    }

    private int httpProxyPort(List<String> allow) {
        Pop pop = OverlayFixture.startPop(OverlayFixture.config(false, true, false,
                List.of(OverlayFixture.user("alice", "alice-password", Store.Limits.NONE)), Pop.ZeroRtt.OFF, null), transport, closing);
        OverlayFixture.startEdge(pop, "e1", Map.of(), allow, transport, closing);
        return pop.address("http_proxy").getPort();
    }

    private static String curl(int proxy) throws Exception {
        Process p = new ProcessBuilder("curl", "-s", "--max-time", "10", "-D", "-", "-x", "http://127.0.0.1:" + proxy, "--proxy-user",
                "alice:alice-password", "http://" + PRIVATE + ":8080/").start();
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
    }

    @Test
    void aPrivateAddressIsRefusedAtTheEdgeWithoutAPacketAndReachedOnlyWhenAllowed() throws Exception {
        String refused = curl(httpProxyPort(List.of()));
        assertThat(refused).startsWith("HTTP/1.1 403").contains("error=destination_ip_prohibited");
        assertThat(Files.readString(dir.resolve("hits"))).as("no connection reached the namespace's listener").isEmpty();
        String allowed = curl(httpProxyPort(List.of("10.250.0.0/30")));
        assertThat(allowed).startsWith("HTTP/1.1 200").endsWith("namespace");
        assertThat(Files.readString(dir.resolve("hits"))).isEqualTo("hit\n");
    }
}
