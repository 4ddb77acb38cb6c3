package dev.titan.overlay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.titan.core.net.Transport;
import dev.titan.core.store.Store;
import dev.titan.core.testing.TestServers;
import java.io.DataInputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** 1,000 user connections open at once through one PoP and one edge tunnel, each carrying its own bytes. */
class OverlayConcurrencyTest {
    private static final int USERS = 1_000;

    @Test
    void aThousandConcurrentConnectionsEachGetTheirOwnBytesBack() throws Exception {
        Transport transport = Transport.create(Transport.Kind.NIO, 2);
        try (TestServers.TcpServer echo = TestServers.echo("echo")) {
            List<AutoCloseable> closing = new ArrayList<>();
            Pop pop = OverlayFixture.startPop(OverlayFixture.config(true, false, false,
                    List.of(OverlayFixture.user("alice", "alice-password", Store.Limits.NONE)), Pop.ZeroRtt.DEFAULT, null), transport, closing);
            Edge edge = OverlayFixture.startEdge(pop, "e1", Map.of(), List.of("127.0.0.0/8"), transport, closing);
            try (pop; edge) {
                int socks = pop.address("socks").getPort();
                CountDownLatch allOpen = new CountDownLatch(USERS);
                CountDownLatch release = new CountDownLatch(1);
                List<Future<String>> results = new ArrayList<>();
                try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
                    for (int i = 0; i < USERS; i++) {
                        int n = i;
                        results.add(threads.submit(() -> {
                            try (Socket s = new Socket("127.0.0.1", socks)) {
                                s.setSoTimeout(30_000);
                                OutputStream out = s.getOutputStream();
                                DataInputStream in = new DataInputStream(s.getInputStream());
                                out.write(new byte[] {5, 1, 2});
                                in.readNBytes(2);
                                byte[] login = new byte[3 + 5 + 14];
                                login[0] = 1;
                                login[1] = 5;
                                System.arraycopy("alice".getBytes(StandardCharsets.US_ASCII), 0, login, 2, 5);
                                login[7] = 14;
                                System.arraycopy("alice-password".getBytes(StandardCharsets.US_ASCII), 0, login, 8, 14);
                                out.write(login);
                                in.readNBytes(2);
                                int port = echo.port();
                                out.write(new byte[] {5, 1, 0, 1, 127, 0, 0, 1, (byte) (port >> 8), (byte) port});
                                byte[] reply = in.readNBytes(10);
                                if (reply.length < 10 || reply[1] != 0) {
                                    allOpen.countDown(); // counted, and failed below
                                    return "refused";
                                }
                                String mine = "connection-" + n + "-";
                                out.write(mine.getBytes(StandardCharsets.US_ASCII));
                                String back = new String(in.readNBytes(mine.length()), StandardCharsets.US_ASCII);
                                allOpen.countDown();
                                release.await(60, TimeUnit.SECONDS); // held open until every other one is open too
                                return back.equals(mine) ? "ok" : "mixed up: " + back;
                            }
                        }));
                    }
                    assertThat(allOpen.await(60, TimeUnit.SECONDS)).as("all %d connections open at once", USERS).isTrue();
                    assertThat(edge.activeStreams()).as("each a stream in the one tunnel").isEqualTo(USERS);
                    release.countDown();
                    for (Future<String> f : results) {
                        assertThat(f.get(60, TimeUnit.SECONDS)).isEqualTo("ok");
                    }
                }
            }
        } finally {
            transport.close();
        }
    }
}
