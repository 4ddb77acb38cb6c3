package dev.titan.overlay;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.titan.core.net.Transport;
import dev.titan.core.store.Store;
import dev.titan.core.testing.Transports;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Absolute-form requests on one kept-alive HTTP proxy connection, through a PoP and an edge to
 * real HTTP/1.1 servers (the JDK's): requests to one origin share a stream, another origin gets a
 * stream of its own, bodies pass chunked both ways, pipelined requests are answered in order, an
 * origin that closes between requests does not close the client, and what the client asks to
 * close is closed. On every transport.
 */
@ParameterizedClass(name = "{0}")
@MethodSource("transports")
class HttpProxyKeepAliveTest {
    private static final String PASSWORD = "alice-pw";
    private static final String AUTH = "Proxy-Authorization: Basic "
            + Base64.getEncoder().encodeToString(("alice:" + PASSWORD).getBytes(StandardCharsets.UTF_8)) + "\r\n";

    @Parameter
    Transport.Kind kind;

    private Transport transport;
    private final List<HttpServer> origins = new ArrayList<>();
    private final List<AutoCloseable> closing = new ArrayList<>();
    private int proxyPort;

    static Stream<Transport.Kind> transports() {
        return Transports.available();
    }

    @BeforeEach
    void setUp() throws IOException {
        transport = Transport.create(kind, 2);
        origins.add(origin("first"));
        origins.add(origin("second"));
        Pop pop = OverlayFixture.startPop(OverlayFixture.config(false, true, false,
                List.of(OverlayFixture.user("alice", PASSWORD, Store.Limits.NONE)), Pop.ZeroRtt.OFF, null), transport, closing);
        OverlayFixture.startEdge(pop, "e1", Map.of(), List.of("127.0.0.0/8"), transport, closing);
        proxyPort = pop.address("http_proxy").getPort();
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        origins.forEach(s -> s.stop(0));
        transport.close();
    }

    /**
     * An origin: {@code /conn} answers its name and the port the request came from (which edge
     * connection carried it), {@code /echo} the request's body, chunked, {@code /close} answers and
     * closes its connection.
     */
    private static HttpServer origin(String name) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        s.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        s.createContext("/conn", x -> fixed(x, name + "@" + x.getRemoteAddress().getPort()));
        s.createContext("/echo", x -> {
            byte[] body = x.getRequestBody().readAllBytes();
            x.sendResponseHeaders(200, 0); // no length: chunked
            try (OutputStream out = x.getResponseBody()) {
                out.write(body);
            }
        });
        s.createContext("/close", x -> {
            x.getResponseHeaders().set("Connection", "close");
            fixed(x, "bye");
        });
        s.start();
        return s;
    }

    private static void fixed(HttpExchange x, String text) throws IOException {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        x.getRequestBody().readAllBytes();
        x.sendResponseHeaders(200, x.getRequestMethod().equals("HEAD") ? -1 : b.length);
        try (OutputStream out = x.getResponseBody()) {
            if (!x.getRequestMethod().equals("HEAD")) {
                out.write(b);
            }
        }
    }

    private String url(int origin, String path) {
        return "http://127.0.0.1:" + origins.get(origin).getAddress().getPort() + path;
    }

    private String get(int origin, String path) {
        return "GET " + url(origin, path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + "\r\n";
    }

    @Test
    void requestsToOneOriginShareAStreamAndAnotherOriginGetsItsOwn() throws Exception {
        try (Client c = new Client(proxyPort)) {
            Response a = c.send(get(0, "/conn")).read();
            Response b = c.send(get(0, "/conn")).read();
            Response other = c.send(get(1, "/conn")).read();
            Response back = c.send(get(0, "/conn")).read();
            assertThat(a.status).isEqualTo(200);
            assertThat(a.body).startsWith("first@");
            assertThat(b.body).as("the second request rode the first's stream to the same origin connection").isEqualTo(a.body);
            assertThat(other.body).startsWith("second@");
            assertThat(back.body).as("back at the first origin, on a new stream").startsWith("first@");
            assertThat(a.headers).doesNotContainKey("connection");
            assertThat(c.open()).as("the client's connection stays open").isTrue();
        }
    }

    @Test
    void chunkedBodiesPassBothWays() throws Exception {
        try (Client c = new Client(proxyPort)) {
            String post = "POST " + url(0, "/echo") + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + "Transfer-Encoding: chunked\r\n\r\n";
            c.send(post + "5\r\nhello\r\n");
            Thread.sleep(50); // the body comes in pieces, after the stream opened
            c.send("7;ext=1\r\n, world\r\n0\r\n\r\n"); // (the JDK server reads no trailers; HttpBodyTest covers them)
            Response echo = c.read();
            assertThat(echo.status).isEqualTo(200);
            assertThat(echo.headers.get("transfer-encoding")).isEqualTo("chunked");
            assertThat(echo.body).isEqualTo("hello, world");
            assertThat(c.send(get(0, "/conn")).read().body).as("the connection goes on after a chunked exchange").startsWith("first@");
        }
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        try (Client c = new Client(proxyPort)) {
            StringBuilder all = new StringBuilder();
            for (String word : List.of("one", "two", "three")) {
                all.append("POST ").append(url(word.equals("two") ? 1 : 0, "/echo")).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n").append(AUTH)
                        .append("Content-Length: ").append(word.length()).append("\r\n\r\n").append(word);
            }
            c.send(all.toString());
            assertThat(List.of(c.read().body, c.read().body, c.read().body)).containsExactly("one", "two", "three");
        }
    }

    @Test
    void anOriginThatClosesBetweenRequestsLeavesTheClientOpen() throws Exception {
        try (Client c = new Client(proxyPort)) {
            Response bye = c.send(get(0, "/close")).read();
            assertThat(bye.body).isEqualTo("bye");
            assertThat(bye.headers).as("the origin's Connection: close is its hop's, not the client's").doesNotContainKey("connection");
            Thread.sleep(200); // the origin's close reaches the PoP
            assertThat(c.send(get(0, "/conn")).read().body).startsWith("first@");
        }
    }

    @Test
    void aClientThatEndsItsSideIsClosedOnceAnswered() throws Exception {
        try (Client c = new Client(proxyPort)) {
            c.send(get(0, "/conn"));
            c.socket.shutdownOutput(); // as curl does when it is done
            assertThat(c.read().body).startsWith("first@");
            long start = System.nanoTime();
            assertThat(c.in.read()).as("the PoP closes its side too").isEqualTo(-1);
            assertThat(System.nanoTime() - start).as("at once, not after the keep-alive wait").isLessThan(3_000_000_000L);
        }
        try (Client c = new Client(proxyPort)) {
            assertThat(c.send(get(0, "/conn")).read().status).isEqualTo(200);
            c.socket.shutdownOutput(); // after the response: nothing in flight
            assertThat(c.in.read()).isEqualTo(-1);
        }
    }

    @Test
    void headAnswersWithoutABodyAndTheConnectionGoesOn() throws Exception {
        try (Client c = new Client(proxyPort)) {
            Response head = c.send(get(0, "/conn").replaceFirst("GET", "HEAD")).readHead();
            assertThat(head.status).isEqualTo(200);
            assertThat(c.send(get(0, "/conn")).read().body).startsWith("first@");
        }
    }

    @Test
    void connectionCloseAndHttp10EndTheConnectionAfterTheResponse() throws Exception {
        for (String request : List.of(get(0, "/conn").replace("Host: 127.0.0.1\r\n", "Host: 127.0.0.1\r\nConnection: close\r\n"),
                get(0, "/conn").replace("HTTP/1.1", "HTTP/1.0"))) {
            try (Client c = new Client(proxyPort)) {
                Response r = c.send(request).read();
                assertThat(r.body).startsWith("first@");
                assertThat(r.headers.get("connection")).isEqualTo("close");
                assertThat(c.in.read()).as("then the PoP closes").isEqualTo(-1);
            }
        }
    }

    @Test
    void aConnectAfterPlainRequestsTunnelsOnTheSameConnection() throws Exception {
        try (Client c = new Client(proxyPort)) {
            assertThat(c.send(get(0, "/conn")).read().status).isEqualTo(200);
            String target = "127.0.0.1:" + origins.get(1).getAddress().getPort();
            Response established = c.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n" + AUTH + "\r\n").readHead();
            assertThat(established.status).isEqualTo(200);
            Response inside = c.send("GET /conn HTTP/1.1\r\nHost: " + target + "\r\n\r\n").read();
            assertThat(inside.body).as("origin-form inside the tunnel").startsWith("second@");
        }
    }

    @Test
    void aMalformedChunkIsRefusedAndClosesOnlyThatConnection() throws Exception {
        try (Client c = new Client(proxyPort)) {
            c.send("POST " + url(0, "/echo") + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + "Transfer-Encoding: chunked\r\n\r\nzz\r\n");
            String rest = new String(c.in.readAllBytes(), StandardCharsets.ISO_8859_1);
            assertThat(rest).startsWith("HTTP/1.1 400").contains("Proxy-Status: titan; error=http_request_error").contains("not a chunk size");
        }
        try (Client c = new Client(proxyPort)) {
            assertThat(c.send(get(0, "/conn")).read().body).as("the PoP still serves").startsWith("first@");
        }
    }

    @Test
    void curlReusesItsProxyConnection() throws Exception {
        Process p = new ProcessBuilder("curl", "-sS", "--max-time", "10", "-x", "http://127.0.0.1:" + proxyPort, "--proxy-user", "alice:" + PASSWORD,
                "-w", "[%{http_code} %{num_connects}]", url(0, "/conn"), url(1, "/conn"), url(0, "/conn")).start();
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(out).as("curl's transfers: one connect, then reuse; stderr: %s", new String(p.getErrorStream().readAllBytes()))
                .matches("first@\\d+\\[200 1\\]second@\\d+\\[200 0\\]first@\\d+\\[200 0\\]");
    }

    record Response(int status, Map<String, String> headers, String body) {
    }

    /** A raw HTTP/1.1 client on one connection, reading responses as a client does (Content-Length, chunked). */
    private static final class Client implements AutoCloseable {
        private final Socket socket;
        private final InputStream in;

        Client(int port) throws IOException {
            socket = new Socket("127.0.0.1", port);
            socket.setSoTimeout(10_000);
            in = socket.getInputStream();
        }

        Client send(String text) throws IOException {
            socket.getOutputStream().write(text.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            return this;
        }

        Response readHead() throws IOException {
            String status = line();
            Map<String, String> headers = new LinkedHashMap<>();
            for (String l; !(l = line()).isEmpty(); ) {
                int colon = l.indexOf(':');
                headers.put(l.substring(0, colon).toLowerCase(Locale.ROOT), l.substring(colon + 1).strip());
            }
            return new Response(Integer.parseInt(status.split(" ")[1]), headers, "");
        }

        Response read() throws IOException {
            Response head = readHead();
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            if ("chunked".equals(head.headers.get("transfer-encoding"))) {
                for (int size; (size = Integer.parseInt(line().split(";")[0], 16)) > 0; ) {
                    body.write(in.readNBytes(size));
                    line();
                }
                while (!line().isEmpty()) {
                    // trailers
                }
            } else if (head.headers.containsKey("content-length")) {
                body.write(in.readNBytes(Integer.parseInt(head.headers.get("content-length"))));
            }
            return new Response(head.status, head.headers, body.toString(StandardCharsets.UTF_8));
        }

        boolean open() throws IOException {
            socket.setSoTimeout(200);
            try {
                return in.read() != -1;
            } catch (java.net.SocketTimeoutException e) {
                return true;
            } finally {
                socket.setSoTimeout(10_000);
            }
        }

        private String line() throws IOException {
            StringBuilder b = new StringBuilder();
            for (int c; (c = in.read()) != '\n'; ) {
                if (c < 0) {
                    throw new IOException("connection closed after: " + b);
                }
                if (c != '\r') {
                    b.append((char) c);
                }
            }
            return b.toString();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
