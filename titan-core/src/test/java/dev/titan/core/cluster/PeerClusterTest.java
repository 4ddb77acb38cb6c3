package dev.titan.core.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.titan.core.config.ClusterConfig;
import dev.titan.core.config.ScoringConfig;
import dev.titan.core.endpoint.AddressList;
import dev.titan.core.endpoint.EndpointSource;
import dev.titan.core.net.Connector;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.testing.FakeClock;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A cluster of peers (as a tunnel client's replicas are) on a fake clock: the connector's refusals
 * eject a peer for the outlier's base time, doubling per ejection in a row; a connect is retried on
 * another peer with the same first bytes; when every peer is ejected, connections go to them anyway
 * (panic routing); a peer that leaves gets no new connection.
 */
class PeerClusterTest {
    private final FakeClock clock = new FakeClock();
    private final EventLoop loop = new DefaultEventLoop();
    private final Set<String> refusing = ConcurrentHashMap.newKeySet();
    private final List<String> attempts = new ArrayList<>();
    private final List<String> firstBytesSeen = new ArrayList<>();
    private final Peers peers = new Peers();
    private Cluster cluster;

    /** Connects to a peer by handing back an embedded channel with the first bytes written to it, unless the peer refuses. */
    private final Connector connector = (endpoint, request, l, timeout) -> {
        synchronized (attempts) {
            attempts.add(endpoint.id());
            firstBytesSeen.add(request.firstBytes().toString(StandardCharsets.US_ASCII));
        }
        if (refusing.contains(endpoint.id())) {
            return l.newFailedFuture(new IllegalStateException(endpoint.id() + " refused"));
        }
        EmbeddedChannel ch = new EmbeddedChannel();
        request.writeFirstBytes(ch);
        ch.flushOutbound();
        return l.newSucceededFuture(ch);
    };

    /** The peers' source: the test adds and removes them as tunnels would. */
    private static final class Peers implements EndpointSource {
        volatile Sink sink;

        @Override
        public void open(Sink s) {
            sink = s;
            s.replaceAddresses(AddressList.EMPTY);
        }

        @Override
        public void close() {
        }

        void add(Endpoint e) throws Exception {
            sink.executor().submit(() -> sink.add(e)).get(5, TimeUnit.SECONDS);
        }

        void remove(Endpoint e) throws Exception {
            sink.executor().submit(() -> sink.remove(e)).get(5, TimeUnit.SECONDS);
        }
    }

    private Endpoint peer(String id) throws Exception {
        Endpoint e = Endpoint.peer(id, Map.of("region", "test"), new Object(), ScoringConfig.DEFAULT);
        peers.add(e);
        return e;
    }

    private void start() throws Exception {
        cluster = new Cluster(ClusterConfig.peers("peers", 8, 3, Duration.ofSeconds(1)), connector, peers, loop, clock);
        cluster.start().get(5, TimeUnit.SECONDS);
    }

    private Cluster.Connection connect(String firstBytes) throws Exception {
        ByteBuf bytes = Unpooled.copiedBuffer(firstBytes, StandardCharsets.US_ASCII);
        try {
            DestinationRequest r = new DestinationRequest("test", null, null, null, "svc", 0, null, null, null, DestinationRequest.TCP, bytes);
            Future<Cluster.Connection> f = cluster.connect(loop, r).await();
            loop.submit(() -> { }).get(5, TimeUnit.SECONDS); // the connect's passive results, queued on the control loop, apply first
            if (!f.isSuccess()) {
                return null;
            }
            Cluster.Connection c = f.getNow();
            cluster.opened(c);
            return c;
        } finally {
            bytes.release();
        }
    }

    /** Lets queued control-loop work run (passive results), then evaluates as the cluster's timer does. */
    private void settle() throws Exception {
        loop.submit(() -> cluster.evaluate()).get(5, TimeUnit.SECONDS);
    }

    @AfterEach
    void tearDown() {
        if (cluster != null) {
            cluster.close();
        }
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    @Test
    void aRefusingPeerIsPassedOverWithTheSameFirstBytesThenEjectedAndBackAfterItsTime() throws Exception {
        start();
        peer("a");
        peer("b");
        refusing.add("a");
        for (int i = 0; i < 6; i++) {
            Cluster.Connection c = connect("hello " + i);
            assertThat(c).as("connection %d is served", i).isNotNull();
            assertThat(c.endpoint().id()).isEqualTo("b");
            assertThat(((EmbeddedChannel) c.channel()).<ByteBuf>readOutbound().toString(StandardCharsets.US_ASCII))
                    .as("the first bytes reached the peer that took the connection").isEqualTo("hello " + i);
            c.channel().close();
        }
        settle();
        assertThat(attempts.stream().filter("a"::equals).count()).as("a refused once, then was ejected").isEqualTo(1);
        int refused = attempts.indexOf("a");
        assertThat(firstBytesSeen.get(refused + 1)).as("the retry on b carried the same first bytes").isEqualTo(firstBytesSeen.get(refused));
        assertThat(cluster.stats().retries()).isEqualTo(1);
        assertThat(cluster.status().join()).filteredOn(s -> s.endpoint().equals("a")).singleElement()
                .satisfies(s -> assertThat(s.state()).isEqualTo("ejected"))
                .satisfies(s -> assertThat(s.labels()).containsEntry("region", "test"));

        refusing.remove("a");
        clock.advance(Duration.ofMillis(1_001));
        settle();
        Set<String> served = ConcurrentHashMap.newKeySet();
        for (int i = 0; i < 20; i++) {
            Cluster.Connection c = connect("again");
            served.add(c.endpoint().id()); // kept open: least connections spreads them
        }
        assertThat(served).as("after its ejection time a takes connections again").containsExactlyInAnyOrder("a", "b");
    }

    @Test
    void theNextEjectionInARowLastsTwiceAsLong() throws Exception {
        start();
        peer("a");
        peer("b");
        refusing.add("a");
        for (int i = 0; i < 100 && attempts.stream().filter("a"::equals).count() < 1; i++) {
            connect("x").channel().close();
        }
        settle();
        clock.advance(Duration.ofMillis(1_001));
        settle();
        for (int i = 0; i < 100 && attempts.stream().filter("a"::equals).count() < 2; i++) {
            connect("y").channel().close();
        }
        assertThat(attempts.stream().filter("a"::equals).count()).as("a was tried again after its first ejection").isEqualTo(2);
        settle();
        clock.advance(Duration.ofMillis(1_500));
        settle();
        assertThat(cluster.status().join()).filteredOn(s -> s.endpoint().equals("a")).singleElement()
                .as("the second ejection lasts 2 s").extracting(EndpointStatus::state).isEqualTo("ejected");
        clock.advance(Duration.ofMillis(600));
        settle();
        assertThat(cluster.status().join()).filteredOn(s -> s.endpoint().equals("a")).singleElement()
                .extracting(EndpointStatus::state).isNotEqualTo("ejected");
    }

    @Test
    void whenEveryPeerIsEjectedConnectionsGoToThemAnyway() throws Exception {
        start();
        peer("a");
        refusing.add("a");
        assertThat(connect("1")).as("the only peer refuses").isNull();
        settle();
        refusing.clear();
        Cluster.Connection c = connect("2");
        assertThat(c).as("panic routing: the ejected peer is used rather than refusing").isNotNull();
        assertThat(c.endpoint().id()).isEqualTo("a");
    }

    @Test
    void aPeerThatLeftGetsNoNewConnection() throws Exception {
        start();
        Endpoint a = peer("a");
        peer("b");
        peers.remove(a);
        for (int i = 0; i < 10; i++) {
            assertThat(connect("q").endpoint().id()).isEqualTo("b");
        }
        Endpoint b = cluster.active().getFirst();
        peers.remove(b);
        assertThat(connect("none")).as("no peer left: refused").isNull();
        assertThat(cluster.stats().noEndpointFailures()).isEqualTo(1);
    }
}
