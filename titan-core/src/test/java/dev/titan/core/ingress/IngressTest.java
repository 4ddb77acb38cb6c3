package dev.titan.core.ingress;

import static org.assertj.core.api.Assertions.assertThat;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.cluster.Endpoint;
import dev.titan.core.config.ClusterConfig;
import dev.titan.core.config.ScoringConfig;
import dev.titan.core.endpoint.AddressList;
import dev.titan.core.endpoint.EndpointSource;
import dev.titan.core.metrics.TitanMetrics;
import dev.titan.core.net.Connector;
import dev.titan.core.net.EarlyInput;
import dev.titan.core.net.Relay;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.route.Router;
import dev.titan.core.time.Clock;
import io.micrometer.core.instrument.Counter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Promise;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Each ingress on an embedded channel, through a real cluster and relay to an embedded upstream:
 * what decides the route, the first flight the upstream gets, what arrives while the cluster
 * connects (held, in order, with the end of input), and the answers to bad openings.
 */
class IngressTest {
    private final EventLoop control = new DefaultEventLoop();
    private final TitanMetrics metrics = new TitanMetrics();
    private final List<DestinationRequest> routed = new ArrayList<>();
    private final AtomicReference<Promise<Channel>> pending = new AtomicReference<>();
    private volatile DestinationRequest lastConnect;
    private final List<EmbeddedChannel> upstreams = new ArrayList<>();
    private Cluster cluster;
    private Router router;
    private Forwarder forwarder;

    /** Connects by handing out an embedded upstream, with the first bytes written to it, once the test completes the connect. */
    private final Connector connector = (endpoint, request, loop, timeout) -> {
        Promise<Channel> p = loop.newPromise();
        lastConnect = request;
        pending.set(p);
        return p;
    };

    private EmbeddedChannel connectNow() {
        EmbeddedChannel up = new EmbeddedChannel();
        up.attr(Relay.END_OF_OUTPUT_SUPPORTED).set(true);
        up.config().setAutoRead(false);
        upstreams.add(up);
        return up;
    }

    @BeforeEach
    void setUp() throws Exception {
        EndpointSource one = new EndpointSource() {
            @Override
            public void open(Sink s) {
                s.replaceAddresses(AddressList.EMPTY);
                s.add(Endpoint.peer("up", Map.of(), new Object(), ScoringConfig.DEFAULT));
            }

            @Override
            public void close() {
            }
        };
        cluster = new Cluster(ClusterConfig.peers("web", 4, 1, Duration.ofSeconds(1)), connector, one, control, Clock.SYSTEM);
        cluster.start().get(5, TimeUnit.SECONDS);
        router = r -> {
            routed.add(r);
            return "app.example".equals(r.hostName()) ? new Router.Route(cluster, r) : null;
        };
        forwarder = new Forwarder(() -> router, metrics.listener("in"), () -> Duration.ZERO);
    }

    @AfterEach
    void tearDown() {
        cluster.close();
        control.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
    }

    private static String drain(EmbeddedChannel ch) {
        StringBuilder b = new StringBuilder();
        for (Object o; (o = ch.readOutbound()) != null; ) {
            if (o instanceof ByteBuf buf) {
                b.append(buf.toString(StandardCharsets.ISO_8859_1));
            } else if (o == Relay.END_OF_OUTPUT) {
                b.append("<END>");
            }
            ReferenceCountUtil.release(o);
        }
        return b.toString();
    }

    private double errors(String kind) {
        Counter c = metrics.registry().find("titan.errors").tags("listener", "in", "kind", kind).counter();
        return c == null ? 0 : c.count();
    }

    /** Completes the pending connect: the first bytes go out on the new upstream first, as a connector sends them. */
    private EmbeddedChannel answer(DestinationRequest request) {
        EmbeddedChannel up = connectNow();
        request.writeFirstBytes(up);
        up.flush();
        pending.get().setSuccess(up);
        return up;
    }

    @Test
    void httpRoutesByHostAndHoldsWhatArrivesWhileConnecting() {
        EmbeddedChannel client = new EmbeddedChannel(new HttpIngress("in", forwarder, Duration.ofSeconds(10), false));
        client.writeInbound(text("POST /p HTTP/1.1\r\nHo"));
        assertThat(routed).as("not decided on half a head").isEmpty();
        client.writeInbound(text("st: App.Example\r\nContent-Length: 8\r\n\r\nbody"));
        assertThat(routed).hasSize(1);
        assertThat(routed.getFirst().httpHost()).isEqualTo("app.example");
        assertThat(routed.getFirst().httpPath()).isEqualTo("/p");
        assertThat(client.pipeline().get(EarlyInput.NAME)).as("an EarlyInput holds what comes next").isNotNull();

        client.writeInbound(text("more")); // read while the cluster connects (epoll reads up to a FIN with reading off)
        client.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        EmbeddedChannel up = answer(routedRequest());
        up.runPendingTasks();
        client.runPendingTasks();

        assertThat(drain(up)).isEqualTo("POST /p HTTP/1.1\r\nHost: App.Example\r\nContent-Length: 8\r\n"
                + "X-Forwarded-Proto: http\r\nX-Forwarded-Host: App.Example\r\n\r\nbodymore<END>");
        up.writeInbound(text("HTTP/1.1 200 OK\r\n\r\n"));
        client.runPendingTasks();
        assertThat(drain(client)).isEqualTo("HTTP/1.1 200 OK\r\n\r\n");
        client.finishAndReleaseAll();
        up.finishAndReleaseAll();
    }

    /** The request the cluster's connector was given (the pending connect's). */
    private DestinationRequest routedRequest() {
        return lastConnect;
    }

    @Test
    void sniPassesTheHelloThroughUntouched() throws Exception {
        byte[] hello = ClientHelloTest.hello("app.example");
        EmbeddedChannel client = new EmbeddedChannel(new SniIngress("in", forwarder, Duration.ofSeconds(10)));
        client.writeInbound(Unpooled.wrappedBuffer(hello, 0, 20));
        assertThat(routed).isEmpty();
        client.writeInbound(Unpooled.wrappedBuffer(hello, 20, hello.length - 20));
        assertThat(routed).singleElement().satisfies(r -> {
            assertThat(r.sni()).isEqualTo("app.example");
            assertThat(r.protocol()).isEqualTo(DestinationRequest.TLS);
        });
        EmbeddedChannel up = answer(routedRequest());
        up.runPendingTasks();
        ByteBuf got = Unpooled.buffer();
        for (Object o; (o = up.readOutbound()) != null; ) {
            got.writeBytes((ByteBuf) o);
            ReferenceCountUtil.release(o);
        }
        assertThat(ByteBufUtil.getBytes(got)).isEqualTo(hello);
        got.release();
        client.finishAndReleaseAll();
        up.finishAndReleaseAll();
    }

    @Test
    void anOversizedHelloClosesQuietlyAndCountsAsMalformed() {
        EmbeddedChannel client = new EmbeddedChannel(new SniIngress("in", forwarder, Duration.ofSeconds(10)));
        client.writeInbound(Unpooled.buffer().writeByte(22).writeShort(0x0301).writeShort(16_384).writeByte(1).writeMedium(70_000));
        client.checkException(); // nothing reached the end of the pipeline
        assertThat(client.isOpen()).isFalse();
        assertThat(drain(client)).isEmpty();
        assertThat(errors("malformed")).isEqualTo(1);
        assertThat(routed).isEmpty();
    }

    @Test
    void badHttpIsAnsweredAndCounted() {
        EmbeddedChannel client = new EmbeddedChannel(new HttpIngress("in", forwarder, Duration.ofSeconds(10), false));
        client.writeInbound(text("GET / HTTP/1.1\r\nHost: app.example\r\nHost: other\r\n\r\n"));
        assertThat(drain(client)).startsWith("HTTP/1.1 400 Bad Request\r\n").endsWith("two Host headers\n");
        assertThat(client.isOpen()).isFalse();
        assertThat(errors("malformed")).isEqualTo(1);
        assertThat(routed).isEmpty();

        EmbeddedChannel lf = new EmbeddedChannel(new HttpIngress("in", forwarder, Duration.ofSeconds(10), false));
        lf.writeInbound(text("GET / HTTP/1.1\nHost: app.example\n"));
        assertThat(drain(lf)).as("a bare LF is answered at once").startsWith("HTTP/1.1 400");
    }

    @Test
    void anUnknownHostIs404AndAClusterWithoutEndpointsIs503() throws Exception {
        EmbeddedChannel client = new EmbeddedChannel(new HttpIngress("in", forwarder, Duration.ofSeconds(10), false));
        client.writeInbound(text("GET / HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n"));
        assertThat(drain(client)).startsWith("HTTP/1.1 404").endsWith("nothing here serves elsewhere.example\n");
        assertThat(errors("no_route")).isEqualTo(1);

        EmbeddedChannel refused = new EmbeddedChannel(new HttpIngress("in", forwarder, Duration.ofSeconds(10), false));
        refused.writeInbound(text("GET / HTTP/1.1\r\nHost: app.example\r\n\r\n"));
        pending.get().setFailure(new Connector.Declined("user u has its max_connections (1) open"));
        refused.runPendingTasks();
        assertThat(drain(refused)).startsWith("HTTP/1.1 503").endsWith("user u has its max_connections (1) open; try again later\n");
        assertThat(errors("limit")).isEqualTo(1);
    }

    @Test
    void anOpeningThatDoesNotFinishInTimeIsClosedUnanswered() throws Exception {
        EmbeddedChannel client = new EmbeddedChannel();
        client.freezeTime();
        client.pipeline().addLast(new HttpIngress("in", forwarder, Duration.ofMillis(10), false));
        client.writeInbound(text("GET / HTTP/1.1\r\n"));
        client.advanceTimeBy(9, TimeUnit.MILLISECONDS);
        client.runScheduledPendingTasks();
        assertThat(client.isOpen()).isTrue();
        client.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        client.runScheduledPendingTasks();
        assertThat(client.isOpen()).isFalse();
        assertThat(drain(client)).isEmpty();
        assertThat(errors("timeout")).isEqualTo(1);
    }
}
