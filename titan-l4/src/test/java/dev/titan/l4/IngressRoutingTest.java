package dev.titan.l4;

import static org.assertj.core.api.Assertions.assertThat;

import dev.titan.core.net.Transport;
import dev.titan.core.testing.ClientHellos;
import dev.titan.core.testing.TestServers;
import dev.titan.core.testing.TestServers.TcpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A forwarder listener that reads before it routes: by TLS server name ({@code ingress: sni},
 * TLS passed through untouched) and by HTTP Host ({@code ingress: http}), over real sockets.
 */
class IngressRoutingTest {
    private final Harness h = new Harness(Transport.Kind.NIO);

    @AfterEach
    void tearDown() throws Exception {
        h.close();
    }

    /** A server that reads the first bytes it is sent and answers with its name and how many it read. */
    private TcpServer named(String name) throws IOException {
        return h.add(new TcpServer(name, s -> {
            byte[] buf = new byte[65_536];
            int n = s.getInputStream().read(buf);
            s.getOutputStream().write((name + ":" + n).getBytes(StandardCharsets.US_ASCII));
        }));
    }

    private static String send(InetSocketAddress at, byte[] bytes) throws IOException {
        try (Socket s = new Socket(at.getAddress(), at.getPort())) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write(bytes);
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void routesTlsByServerNameAndPassesTheHelloThrough() throws Exception {
        TcpServer a = named("a");
        TcpServer other = named("other");
        h.start(Harness.QUIET + """
                listeners:
                  - name: tls
                    listen_addr: "127.0.0.1:0"
                    ingress: sni
                    routes: [ { match: { sni: "*.a.example" }, cluster: a } ]
                    cluster: other
                clusters:
                  a: { endpoints: [ "%s" ] }
                  other: { endpoints: [ "%s" ] }
                """.formatted(a.endpoint(), other.endpoint()));
        byte[] hello = ClientHellos.of("www.a.example");
        assertThat(send(h.address("tls"), hello)).as("the whole hello reached the endpoint").isEqualTo("a:" + hello.length);
        assertThat(send(h.address("tls"), ClientHellos.of("b.example"))).startsWith("other:");
        assertThat(send(h.address("tls"), ClientHellos.of(null))).as("no name: the catch-all").startsWith("other:");
        assertThat(send(h.address("tls"), "GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII)))
                .as("not TLS: closed").isEmpty();
    }

    @Test
    void routesHttpByHost() throws Exception {
        TcpServer a = h.add(TestServers.http("served-by-a", 0));
        TcpServer other = h.add(TestServers.http("served-by-other", 0));
        h.start(Harness.QUIET + """
                listeners:
                  - name: web
                    listen_addr: "127.0.0.1:0"
                    ingress: http
                    routes: [ { match: { host: "a.example" }, cluster: a } ]
                    cluster: other
                clusters:
                  a: { endpoints: [ "%s" ] }
                  other: { endpoints: [ "%s" ] }
                """.formatted(a.endpoint(), other.endpoint()));
        String get = "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n";
        assertThat(send(h.address("web"), get.formatted("A.example:8080").getBytes(StandardCharsets.US_ASCII))).endsWith("served-by-a");
        assertThat(send(h.address("web"), get.formatted("b.example").getBytes(StandardCharsets.US_ASCII))).endsWith("served-by-other");
        assertThat(send(h.address("web"), "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b\r\n\r\n".getBytes(StandardCharsets.US_ASCII)))
                .startsWith("HTTP/1.1 400");
    }
}
