package dev.titan.core.net;

import static org.assertj.core.api.Assertions.assertThat;

import dev.titan.core.testing.TestServers;
import io.netty.channel.ChannelFuture;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The connector on every transport: connects, and never leaves a failed connection's socket open. */
class TcpConnectorTest {
    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void aRefusedConnectClosesItsChannel(Transport.Kind kind) throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        try (Transport t = Transport.create(kind, 1)) {
            TcpConnector c = new TcpConnector(t, true, true);
            for (int i = 0; i < 20; i++) {
                ChannelFuture f = c.connect(new InetSocketAddress("127.0.0.1", closedPort), t.group().next(), Duration.ofSeconds(2));
                assertThat(f.await(5, TimeUnit.SECONDS)).isTrue();
                assertThat(f.isSuccess()).as("nothing listens there").isFalse();
                // an open, registered, unconnected socket would be reported ready (EPOLLHUP) forever: a busy loop and an fd leak
                assertThat(f.channel().closeFuture().await(5, TimeUnit.SECONDS)).as("the failed channel is closed").isTrue();
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.Kind.class)
    void connectsWithTheRelaysOptions(Transport.Kind kind) throws Exception {
        try (TestServers.TcpServer echo = TestServers.echo("echo"); Transport t = Transport.create(kind, 1)) {
            ChannelFuture f = new TcpConnector(t, true, true).connect(echo.address(), t.group().next(), Duration.ofSeconds(2));
            assertThat(f.await(5, TimeUnit.SECONDS) && f.isSuccess()).isTrue();
            assertThat(f.channel().config().isAutoRead()).as("the relay decides when to read").isFalse();
            f.channel().close().sync();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
