package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.titan.core.config.ConfigException;
import dev.titan.core.config.ConfigLoader;
import dev.titan.core.config.TitanConfig;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tunnel sections as a user writes them: transports, TLS files, and every mistake reported with its key path. */
class TunnelSectionsTest {
    @TempDir
    Path dir;

    private static TitanConfig parse(String yaml) {
        return new ConfigLoader(TunnelSections.readers(), java.util.List.of("tcp")).parse("test.yaml", yaml);
    }

    @Test
    void transportsOfOneHostAndTheirDefaults() throws Exception {
        TestCerts certs = TestCerts.make(dir, "tunnel.test", "dns:tunnel.test");
        TitanConfig cfg = parse("""
                tunnel_client:
                  servers: [ "tcp://127.0.0.1:12080", "tls://127.0.0.1", "ws://127.0.0.1", "wss://127.0.0.1:8443/custom" ]
                  id: id1
                  secret: "0123456789"
                  tls: { ca: "%s", server_name: tunnel.test }
                  services: [ { name: web, local: "http://127.0.0.1:80" } ]
                """.formatted(certs.certPem()));
        TunnelClientConfig c = cfg.section(TunnelSections.CLIENT, TunnelClientConfig.class);
        assertThat(c.servers()).extracting(TunnelEndpoint::toString).containsExactly("tcp://127.0.0.1:12080", "tls://127.0.0.1:443",
                "ws://127.0.0.1:80/_titan/tunnel", "wss://127.0.0.1:8443/custom");
        assertThat(c.tls().serverName()).isEqualTo("tunnel.test");
        assertThat(c.servers().get(3).hostHeader()).isEqualTo("127.0.0.1:8443");
        assertThat(c.servers().get(2).hostHeader()).isEqualTo("127.0.0.1");
    }

    @Test
    void badTransportsAndTlsFilesAreRefusedWithTheirPaths() {
        assertThatThrownBy(() -> parse("""
                tunnel_server:
                  listen_addr: "127.0.0.1:12080"
                  users: [ { id: id1, secret: "0123456789" } ]
                  tls: { cert: "%s/missing.crt", key: "%s/missing.key", colour: blue }
                  ws_path: "tunnel"
                tunnel_client:
                  servers: [ "quic://127.0.0.1:12080", "tcp://127.0.0.1:1/x" ]
                  id: id1
                  secret: "0123456789"
                  tls: { ca: "%s/missing-ca.crt" }
                  services: [ { name: web, local: "http://127.0.0.1:80" } ]
                """.formatted(dir, dir, dir)))
                .isInstanceOf(ConfigException.class)
                .satisfies(e -> assertThat(((ConfigException) e).problems()).anyMatch(p -> p.startsWith("tunnel_server.tls.cert:"))
                        .anyMatch(p -> p.startsWith("tunnel_server.tls.colour:"))
                        .anyMatch(p -> p.startsWith("tunnel_server.ws_path:"))
                        .anyMatch(p -> p.startsWith("tunnel_client.servers:") && p.contains("quic"))
                        .anyMatch(p -> p.startsWith("tunnel_client.servers:") && p.contains("only ws:// and wss:// take a path"))
                        .anyMatch(p -> p.startsWith("tunnel_client.tls.ca:")));
    }

    @Test
    void userLimitsParseAndBadRatesAreRefusedWithTheirPaths() {
        TitanConfig cfg = parse("""
                tunnel_server:
                  users:
                    - { id: a, secret: "0123456789", max_connections: 100, bandwidth: 8mbit }
                    - { id: b, secret: "0123456789", bandwidth: { from_client: 2MB/s } }
                """);
        TunnelServerConfig s = cfg.section(TunnelSections.SERVER, TunnelServerConfig.class);
        assertThat(s.users().get(0).maxConnections()).isEqualTo(100);
        assertThat(s.users().get(0).bytesToClient()).isEqualTo(1_000_000L);
        assertThat(s.users().get(0).bytesFromClient()).isEqualTo(1_000_000L);
        assertThat(s.users().get(1).bytesToClient()).isZero();
        assertThat(s.users().get(1).bytesFromClient()).isEqualTo(2_000_000L);
        assertThatThrownBy(() -> parse("""
                tunnel_server:
                  users:
                    - { id: a, secret: "0123456789", bandwidth: quick }
                    - { id: b, secret: "0123456789", bandwidth: { from_client: 2 parsecs, sideways: 1mbit } }
                """)).isInstanceOf(ConfigException.class)
                .satisfies(e -> assertThat(((ConfigException) e).problems())
                        .anyMatch(p -> p.startsWith("tunnel_server.users[0].bandwidth:"))
                        .anyMatch(p -> p.startsWith("tunnel_server.users[1].bandwidth.from_client:"))
                        .anyMatch(p -> p.startsWith("tunnel_server.users[1].bandwidth.sideways:")));
    }
}
