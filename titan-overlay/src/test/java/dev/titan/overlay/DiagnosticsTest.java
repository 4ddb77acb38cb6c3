package dev.titan.overlay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.titan.core.cluster.EndpointStatus;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.scoring.EndpointScore;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** [NODE_UNSTABLE] once per change of state, with the figures; [BROWSER_INFO] says what the client is, never what it sends. */
class DiagnosticsTest {
    private static EndpointStatus edge(String id, double jitterMs, double success, int failuresInARow) {
        EndpointScore.Breakdown b = new EndpointScore.Breakdown(50, 40, 10, 30, 0, 0, 12.5, jitterMs, success, failuresInARow, 20);
        return new EndpointStatus(id, "active", b, 0, 0, 0, 1, Map.of());
    }

    @Test
    void anEdgeIsReportedUnstableOnceAndStableWhenItRecovers() {
        Diagnostics d = new Diagnostics(Diagnostics.Thresholds.DEFAULT, new EdgeThroughput(System::nanoTime));
        assertThat(d.evaluate(List.of(edge("e1", 5, 1.0, 0), edge("e2", 5, 1.0, 0)))).isEmpty();
        List<String> lines = d.evaluate(List.of(edge("e1", 80, 1.0, 0), edge("e2", 5, 0.5, 0)));
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).startsWith("[NODE_UNSTABLE] edge=e1").contains("jitter=80.00ms").contains("rtt=12.50ms")
                .contains("(jitter above 50.00 ms)");
        assertThat(lines.get(1)).startsWith("[NODE_UNSTABLE] edge=e2").contains("success=0.50").contains("success rate below 0.95");
        assertThat(d.unstableCount()).isEqualTo(2);
        assertThat(d.evaluate(List.of(edge("e1", 90, 1.0, 0), edge("e2", 5, 0.5, 0)))).as("still unstable: said once").isEmpty();
        assertThat(d.evaluate(List.of(edge("e1", 5, 1.0, 0), edge("e2", 5, 0.5, 4)))).containsExactly(
                "[NODE_STABLE] edge=e1 rtt=12.50ms jitter=5.00ms success=1.00 failures_in_a_row=0 score=50.00 state=active");
        assertThat(d.evaluate(List.of())).as("a gone edge is forgotten").isEmpty();
        assertThat(d.unstableCount()).isZero();
    }

    @Test
    void browserInfoNamesTheClientButNotWhatItSends() throws Exception {
        EmbeddedChannel ch = new EmbeddedChannel();
        DestinationRequest r = DestinationRequest.of("pop_socks", ch, DestinationRequest.SOCKS5).withUser("alice").withTarget("example.org", 443);
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(null, null, null);
        javax.net.ssl.SSLEngine engine = ctx.createSSLEngine("example.org", 443);
        engine.setUseClientMode(true);
        javax.net.ssl.SSLParameters params = engine.getSSLParameters();
        params.setServerNames(List.of(new javax.net.ssl.SNIHostName("example.org")));
        params.setApplicationProtocols(new String[] {"h2"});
        engine.setSSLParameters(params);
        java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(java.nio.ByteBuffer.allocate(0), out);
        out.flip();
        String tls = Diagnostics.browserInfo(r, null, Unpooled.wrappedBuffer(out));
        assertThat(tls).startsWith("[BROWSER_INFO] user=alice").contains("target=example.org:443").contains("tls sni=example.org")
                .contains("alpn=h2").containsPattern("ja3=[0-9a-f]{32}");
        ByteBuf http = Unpooled.copiedBuffer("POST /login HTTP/1.1\r\nHost: example.org\r\nUser-Agent: curl/7.88\r\nContent-Length: 14\r\n\r\n"
                + "password=hunter2", StandardCharsets.US_ASCII);
        assertThat(Diagnostics.browserInfo(r, null, http)).contains("http POST ua=\"curl/7.88\"").doesNotContain("hunter2").doesNotContain("/login");
        assertThat(Diagnostics.browserInfo(r, null, Unpooled.wrappedBuffer(new byte[] {1, 2, 3}))).contains("other (3 bytes");
        assertThat(Diagnostics.browserInfo(r, null, Unpooled.EMPTY_BUFFER)).contains("nothing before the connect");
        http.release();
        ch.finishAndReleaseAll();
    }

    @Test
    void anEdgeWhoseDeliveryCollapsedIsToldApartFromItsRoundTrips() {
        EdgeThroughput t = new EdgeThroughput(System::nanoTime);
        long second = 1_000_000_000L;
        assertThat(t.record("e1", 100L << 20, second)).isFalse();
        assertThat(t.record("e2", 90L << 20, second)).isFalse();
        assertThat(t.record("e3", 80L << 20, second)).isFalse();
        assertThat(t.record("e3", 1000, second)).as("a small connection says nothing about throughput").isFalse();
        assertThat(t.record("e3", 1L << 20, 5 * second)).as("one slow transfer moves the average only part way").isFalse();
        boolean collapsed = false;
        for (int i = 0; i < 10 && !collapsed; i++) {
            collapsed = t.record("e3", 1L << 20, 5 * second); // 0.2 MiB/s, again and again
        }
        assertThat(collapsed).isTrue();
        assertThat(t.collapsed("e1")).isFalse();
        assertThat(t.mbit("e1")).isCloseTo(838.9, org.assertj.core.api.Assertions.within(1.0));
        assertThat(t.mbit("e9")).isEqualTo(-1);
        Diagnostics d = new Diagnostics(Diagnostics.Thresholds.DEFAULT, t);
        List<String> lines = d.evaluate(List.of(edge("e1", 5, 1.0, 0), edge("e3", 5, 1.0, 0)));
        assertThat(lines).singleElement().asString().startsWith("[NODE_UNSTABLE] edge=e3").contains("throughput=")
                .contains("(throughput below a quarter of the edges' median)");
    }
}
