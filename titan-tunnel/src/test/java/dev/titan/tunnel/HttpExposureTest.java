package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.titan.core.net.Transport;
import dev.titan.core.testing.TestServers;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** HTTP exposure by Host on the tunnel's own port (port sharing): real HTTP clients, a real WebSocket. */
class HttpExposureTest {
    private static final String SECRET = "s3cret-for-tests";

    private Transport transport;
    private TunnelServer server;
    private final List<AutoCloseable> closing = new ArrayList<>();

    /** NIO here; epoll in {@link EpollHttpExposureTest}. */
    Transport.Kind kind() {
        return Transport.Kind.NIO;
    }

    @BeforeEach
    void setUp() {
        transport = Transport.create(kind(), 2);
        TunnelServerConfig.User user = new TunnelServerConfig.User("id1", SECRET.getBytes(StandardCharsets.UTF_8), List.of(),
                List.of("127.0.0.1", "*.custom.test"), 4);
        server = new TunnelServer(new TunnelServerConfig(new InetSocketAddress("127.0.0.1", 0), "127.0.0.1", List.of(user),
                TunnelSettings.DEFAULTS, Duration.ofMinutes(1), "tunnel.test"), transport);
        server.start();
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        server.close();
        transport.close();
    }

    private void connect(TunnelClientConfig.LocalService service) {
        TunnelClient c = new TunnelClient(TunnelClientConfig.of(server.address(), "id1", SECRET, 1, List.of(service)), transport);
        closing.add(c);
        c.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> c.connectedTunnels() == 1);
    }

    /** An HTTP service that answers each request with the request head it received. */
    private TestServers.TcpServer headEcho() throws IOException {
        TestServers.TcpServer s = new TestServers.TcpServer("head-echo", sock -> {
            InputStream in = sock.getInputStream();
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int matched = 0;
            while (matched < 4) {
                int b = in.read();
                if (b < 0) {
                    return;
                }
                head.write(b);
                matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
            }
            byte[] body = head.toByteArray();
            sock.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            sock.getOutputStream().write(body);
            sock.getOutputStream().flush();
        });
        closing.add(s);
        return s;
    }

    private String request(String host, String extraHeaders) throws IOException {
        try (Socket s = new Socket("127.0.0.1", server.address().getPort())) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write(("GET /path?q=1 HTTP/1.1\r\nHost: " + host + "\r\n" + extraHeaders + "Connection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void requestsForTheClientsHostReachItsServiceWithForwardedHeaders() throws Exception {
        connect(TunnelClientConfig.LocalService.http("web", headEcho().address(), List.of()));
        String response = request("id1.tunnel.test:8080", "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: https\r\n");
        assertThat(response).startsWith("HTTP/1.1 200");
        assertThat(response).as("the service sees the request line unchanged").contains("GET /path?q=1 HTTP/1.1\r\n");
        assertThat(response).as("the user's address appended to what the user claimed")
                .contains("X-Forwarded-For: 10.0.0.9, 127.0.0.1\r\n");
        assertThat(response).as("the proto of the hop the request arrived on, not the user's claim")
                .contains("X-Forwarded-Proto: http\r\n").doesNotContain("https");
        assertThat(response).contains("X-Forwarded-Host: id1.tunnel.test:8080\r\n");
    }

    /**
     * A client that sends its request and half-closes at once, as HTTP/1.0 clients may, while the
     * stream is still being opened: the request, its end and the whole answer get through. The
     * service answers only once it has read to the end of input, and more than socket buffers hold.
     */
    @Test
    void aRequestFollowedByItsFinGetsItsWholeAnswer() throws Exception {
        int answer = 4 << 20;
        TestServers.TcpServer web = new TestServers.TcpServer("answers-after-eof", sock -> {
            String request = new String(sock.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            sock.getOutputStream().write(("HTTP/1.0 200 OK\r\nContent-Length: " + answer + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            byte[] chunk = new byte[64 << 10];
            java.util.Arrays.fill(chunk, (byte) (request.startsWith("GET /half-closed HTTP/1.0") ? 'y' : 'n'));
            for (int sent = 0; sent < answer; sent += chunk.length) {
                sock.getOutputStream().write(chunk);
            }
        });
        closing.add(web);
        connect(TunnelClientConfig.LocalService.http("web", web.address(), List.of()));
        for (int i = 0; i < 10; i++) {
            try (Socket s = new Socket("127.0.0.1", server.address().getPort())) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write("GET /half-closed HTTP/1.0\r\nHost: id1.tunnel.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                s.shutdownOutput();
                Thread.sleep(50); // the answer backs up
                byte[] all = s.getInputStream().readAllBytes();
                String text = new String(all, StandardCharsets.ISO_8859_1);
                assertThat(text).as("answer %d", i).startsWith("HTTP/1.0 200");
                assertThat(all.length - text.indexOf("\r\n\r\n") - 4).as("body bytes of answer %d", i).isEqualTo(answer);
                assertThat(text).as("the service saw the request whole").endsWith("y");
            }
        }
    }

    /**
     * Two replicas of one client, one of which cannot reach its local service (nothing listens
     * there): every request is answered by the other, and the broken one, having refused, is
     * avoided for a while. With only the broken replica, the user gets a 502, not a closed
     * connection.
     */
    @Test
    void aReplicaThatCannotReachItsServicePassesTheRequestToAnother() throws Exception {
        InetSocketAddress nothingThere = new InetSocketAddress("127.0.0.1", TunnelFixture.freePort());
        connect(TunnelClientConfig.LocalService.http("web", nothingThere, List.of()));
        ServerSession broken = server.sessions("id1").getFirst();
        assertThat(request("id1.tunnel.test", "")).as("the only replica cannot serve").startsWith("HTTP/1.1 502");
        connect(TunnelClientConfig.LocalService.http("web", headEcho().address(), List.of()));
        await().atMost(Duration.ofSeconds(10)).until(() -> server.sessions("id1").size() == 2);
        ServerSession working = server.sessions("id1").stream().filter(s -> s != broken).findFirst().orElseThrow();
        for (int i = 0; i < 40; i++) {
            assertThat(request("id1.tunnel.test", "")).as("request %d", i).startsWith("HTTP/1.1 200").contains("GET /path?q=1 HTTP/1.1");
        }
        assertThat(working.streamsOpened()).as("the working replica answered every request").isEqualTo(40);

    }

    @Test
    void unknownHostsAndMissingHostGetAnErrorAndTheServerStaysUp() throws Exception {
        connect(TunnelClientConfig.LocalService.http("web", headEcho().address(), List.of()));
        assertThat(request("id2.tunnel.test", "")).startsWith("HTTP/1.1 404");
        assertThat(request("elsewhere.example", "")).startsWith("HTTP/1.1 404");
        try (Socket s = new Socket("127.0.0.1", server.address().getPort())) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 400");
        }
        try (Socket s = new Socket("127.0.0.1", server.address().getPort())) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write(("GET / HTTP/1.1\r\nX: " + "a".repeat(20_000)).getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 431");
        }
        assertThat(request("id1.tunnel.test", "")).as("still serving").startsWith("HTTP/1.1 200");
    }

    @Test
    void customHostsAllowedForTheIdAreServedAndOthersRefusedAtHandshake() throws Exception {
        connect(TunnelClientConfig.LocalService.http("web", headEcho().address(), List.of("app.custom.test")));
        assertThat(request("app.custom.test", "")).startsWith("HTTP/1.1 200");

        TunnelClient greedy = new TunnelClient(TunnelClientConfig.of(server.address(), "id1", SECRET, 1,
                List.of(TunnelClientConfig.LocalService.http("web", headEcho().address(), List.of("bank.example")))), transport);
        closing.add(greedy);
        greedy.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> server.handshakeFailures().getOrDefault("not_allowed", 0L) >= 1);
        assertThat(greedy.connectedTunnels()).isZero();
    }

    @Test
    void curlThroughTheSharedPort() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/curl")), "curl is installed");
        TestServers.TcpServer web = TestServers.http("served-through-the-tunnel", 0);
        closing.add(web);
        connect(TunnelClientConfig.LocalService.http("web", web.address(), List.of()));
        Process curl = new ProcessBuilder("curl", "-sS", "--max-time", "5", "-H", "Host: id1.tunnel.test",
                "http://127.0.0.1:" + server.address().getPort() + "/").redirectErrorStream(true).start();
        String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(curl.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(curl.exitValue()).as(out).isZero();
        assertThat(out).isEqualTo("served-through-the-tunnel");
    }

    @Test
    void webSocketUpgradeAndEchoThroughTheTunnel() throws Exception {
        Channel ws = new ServerBootstrap().group(transport.group()).channel(transport.serverChannel())
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(65_536),
                                new WebSocketServerProtocolHandler("/ws"), new SimpleChannelInboundHandler<TextWebSocketFrame>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, TextWebSocketFrame frame) {
                                        ctx.writeAndFlush(new TextWebSocketFrame("echo: " + frame.text()));
                                    }
                                });
                    }
                }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        closing.add(() -> ws.close().sync());
        // the JDK client sends Host: 127.0.0.1:<port>, a custom host this id may serve
        connect(TunnelClientConfig.LocalService.http("ws", (InetSocketAddress) ws.localAddress(), List.of("127.0.0.1")));

        CompletableFuture<String> reply = new CompletableFuture<>();
        WebSocket socket = HttpClient.newHttpClient().newWebSocketBuilder()
                .buildAsync(URI.create("ws://127.0.0.1:" + server.address().getPort() + "/ws"), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
                        reply.complete(data.toString());
                        return null;
                    }
                }).get(10, TimeUnit.SECONDS);
        socket.sendText("hello through NAT", true);
        assertThat(reply.get(10, TimeUnit.SECONDS)).isEqualTo("echo: hello through NAT");
        socket.sendClose(WebSocket.NORMAL_CLOSURE, "done").get(5, TimeUnit.SECONDS);
    }
}
