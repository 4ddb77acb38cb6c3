package dev.titan.overlay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import dev.titan.core.net.Transport;
import dev.titan.core.store.Store;
import dev.titan.core.testing.TestServers;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Per-user limits across all of a user's connections, with real downloads through PoP → edge → a service. */
class OverlayLimitsTest {
    private static final String SECRET = "edge-secret-for-tests";
    private static final int BODY = 12 << 20;

    private Transport transport;
    private TestServers.TcpServer big;
    private Pop pop;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        transport = Transport.create(Transport.Kind.NIO, 2);
        byte[] chunk = new byte[64 << 10];
        big = new TestServers.TcpServer("big", s -> { // HTTP/1.1 with a 12 MiB body for every request
            InputStream in = s.getInputStream();
            StringBuilder head = new StringBuilder();
            int c;
            while ((c = in.read()) >= 0) {
                head.append((char) c);
                if (head.toString().endsWith("\r\n\r\n")) {
                    OutputStream out = s.getOutputStream();
                    out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + BODY + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    for (int sent = 0; sent < BODY; sent += chunk.length) {
                        out.write(chunk);
                    }
                    out.flush();
                    head.setLength(0);
                }
            }
        });
        pop = startPop(null);
    }

    /** A PoP with the test's users (and {@code usage} kept in a file, if given) and one edge connected to it. */
    private Pop startPop(Pop.UsageStore usage) {
        List<Store.User> users = List.of(
                user("quota", new Store.Limits(0, 0, 0, 0, 1 << 20, Store.QuotaPeriod.DAY)),
                user("slow", new Store.Limits(0, 0, 1_000_000, 0, 0, null)),
                user("two", new Store.Limits(2, 0, 0, 0, 0, null)));
        Pop p = OverlayFixture.startPop(OverlayFixture.config(true, true, false, users, Pop.ZeroRtt.OFF, usage), transport, closing);
        OverlayFixture.startEdge(p, "e1", Map.of(), List.of("127.0.0.0/8"), transport, closing);
        return p;
    }

    private static Store.User user(String id, Store.Limits limits) {
        return OverlayFixture.user(id, id + "-password", limits);
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        big.close();
        transport.close();
    }

    /** curl through the HTTP proxy as {@code user}: "status bytes_received bytes_per_second Proxy-Status". */
    private String[] download(String user, int maxSeconds) throws Exception {
        Process p = new ProcessBuilder("curl", "-s", "--max-time", String.valueOf(maxSeconds), "-o", "/dev/null", "-D", "-",
                "-w", "\nRESULT %{http_code} %{size_download} %{speed_download}\n", "-x",
                "http://127.0.0.1:" + pop.address("http_proxy").getPort(), "--proxy-user", user + ":" + user + "-password",
                "http://127.0.0.1:" + big.port() + "/").start();
        assertThat(p.waitFor(maxSeconds + 10L, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        String result = out.lines().filter(l -> l.startsWith("RESULT ")).findFirst().orElseThrow();
        String proxyStatus = out.lines().filter(l -> l.toLowerCase().startsWith("proxy-status:")).findFirst().orElse("");
        String[] r = result.split(" ");
        return new String[] {r[1], r[2], r[3], proxyStatus};
    }

    @Test
    void aQuotaStopsTheDownloadWithin64KiBAndRefusesTheNextConnectionWithItsReason() throws Exception {
        String[] first = download("quota", 20);
        long received = Long.parseLong(first[1]);
        assertThat(received).as("the body stops at the quota (1 MiB both ways, counting the request and the response head)")
                .isBetween((1L << 20) - (64 << 10), (1L << 20) + (64 << 10));
        long used = pop.store().usage("quota").inPeriod(Store.QuotaPeriod.DAY.key(java.time.LocalDate.now(java.time.ZoneOffset.UTC)));
        assertThat(used - (1L << 20)).as("overshoot in bytes").isBetween(0L, 64L << 10);
        String[] next = download("quota", 10);
        assertThat(next[0]).isEqualTo("403");
        assertThat(next[3]).contains("error=http_request_denied").contains("quota");
    }

    @Test
    void bandwidthIsSharedByTheUsersConnectionsAndHeldWithin5Percent() throws Exception {
        String[] r = download("slow", 30); // 12 MiB at 1 MB/s: about 12.6 s
        assertThat(r[0]).isEqualTo("200");
        assertThat(Long.parseLong(r[1])).isEqualTo(BODY);
        assertThat(Double.parseDouble(r[2])).as("bytes per second over the download").isCloseTo(1_000_000, within(50_000.0));
    }

    @Test
    void maxConnectionsCountsEveryOpenConnectionOfTheUser() throws Exception {
        List<Socket> held = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Socket s = new Socket("127.0.0.1", pop.address("http_proxy").getPort());
            held.add(s);
            s.getOutputStream().write(("CONNECT 127.0.0.1:" + big.port() + " HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic "
                    + java.util.Base64.getEncoder().encodeToString("two:two-password".getBytes(StandardCharsets.US_ASCII)) + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            byte[] answer = new byte[39];
            s.getInputStream().readNBytes(answer, 0, answer.length);
            assertThat(new String(answer, StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200");
        }
        String[] third = download("two", 10);
        assertThat(third[0]).isEqualTo("429");
        assertThat(third[3]).contains("connection_limit_reached");
        held.getFirst().close();
        await().atMost(Duration.ofSeconds(5)).until(() -> pop.store() != null && download("two", 10)[0].equals("200"));
        for (Socket s : held) {
            s.close();
        }
    }

    @Test
    void usageKeptInAFileSurvivesARestartOfThePop(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        Pop.UsageStore usage = new Pop.UsageStore(dir.resolve("usage.json"), Duration.ofSeconds(1));
        pop = startPop(usage);
        assertThat(download("quota", 20)[0]).isEqualTo("200"); // stopped at the quota
        pop.close(); // a last write
        pop = startPop(usage);
        String[] next = download("quota", 10);
        assertThat(next[0]).as("the quota used before the restart still counts").isEqualTo("403");
        assertThat(next[3]).contains("quota");
        assertThat(java.nio.file.Files.readString(dir.resolve("usage.json"))).contains("\"edges\"").contains("\"e1\"");
    }
}
