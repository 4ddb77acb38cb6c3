package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.titan.core.net.Transport;
import io.micrometer.core.instrument.Meter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The server's meters across reloads: one set per configured id, registered once; those of a removed id go. */
class ServerMetricsTest {
    private static TunnelServerConfig config(String... ids) {
        List<TunnelServerConfig.User> users = java.util.Arrays.stream(ids)
                .map(id -> new TunnelServerConfig.User(id, ("secret-of-" + id).getBytes(StandardCharsets.UTF_8), List.of(), List.of(), 2))
                .toList();
        return new TunnelServerConfig(new InetSocketAddress("127.0.0.1", 0), "127.0.0.1", users, TunnelSettings.DEFAULTS,
                Duration.ofMinutes(1), null);
    }

    @Test
    void aReloadRegistersEachMeterOnceAndRemovesThoseOfRemovedIds() {
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.addAppender(logged);
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (Transport transport = Transport.create(Transport.Kind.NIO, 1); TunnelServer server = new TunnelServer(config("id1", "id2"), transport)) {
            server.bindMetrics(registry);
            for (int i = 0; i < 3; i++) {
                server.update(config("id1", "id3"));
                server.bindMetrics(registry);
            }
            List<String> clients = registry.find("titan_tunnel_connected").meters().stream().map(m -> m.getId().getTag("client")).sorted().toList();
            assertThat(clients).containsExactly("id1", "id3");
            assertThat(registry.find("titan_tunnel_handshake_failures").meters()).hasSize(ServerMetrics.HANDSHAKE_FAILURES.size());
            assertThat(registry.getMeters().stream().map(Meter::getId).distinct().count()).isEqualTo(registry.getMeters().size());
            assertThat(logged.list).noneMatch(e -> e.getFormattedMessage().contains("already registered"));
        } finally {
            root.detachAppender(logged);
        }
    }
}
