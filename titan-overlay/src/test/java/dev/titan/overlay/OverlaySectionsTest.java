package dev.titan.overlay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.titan.core.config.ConfigException;
import dev.titan.core.config.ConfigLoader;
import dev.titan.core.config.TitanConfig;
import dev.titan.core.net.Cidr;
import dev.titan.core.store.Store;
import java.util.Map;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pop and edge sections as a user writes them, and every mistake refused with its key path. */
class OverlaySectionsTest {
    private static TitanConfig parse(String yaml) {
        return new ConfigLoader(OverlaySections.readers(), List.of("tcp")).parse("test.yaml", yaml);
    }

    private static List<String> problems(String yaml) {
        try {
            parse(yaml);
        } catch (ConfigException e) {
            return e.problems();
        }
        throw new AssertionError("accepted: " + yaml);
    }

    @Test
    void aPopAndAnEdgeAsDocumented() {
        TitanConfig cfg = parse("""
                pop:
                  socks: "127.0.0.1:1080"
                  mixed: "127.0.0.1:7890"
                  users: [ { id: alice, password: "alice-password" } ]
                  sources: [ { network: 10.1.0.0/16, user: alice } ]
                  edges: { listen_addr: "127.0.0.1:8443", users: [ { id: e1, secret: "edge-secret" } ] }
                edge:
                  servers: [ "ws://127.0.0.1:8443" ]
                  id: e1
                  secret: "edge-secret"
                  labels: { country: us, asn: "7922" }
                  egress: { allow: [ 127.0.0.0/8 ], deny: [ 192.0.2.0/24 ], deny_ports: [ 25, 465 ], deny_domains: [ example.net ] }
                """);
        Pop.Config pop = cfg.section(OverlaySections.POP, Pop.Config.class);
        assertThat(pop.socks().getPort()).isEqualTo(1080);
        assertThat(pop.http()).isNull();
        assertThat(pop.users()).extracting(u -> u.id()).containsExactly("alice");
        assertThat(pop.edges().users()).extracting(u -> u.id()).containsExactly("e1");
        assertThat(pop.summary()).contains("socks 127.0.0.1:1080", "mixed 127.0.0.1:7890", "1 user(s)").doesNotContain("alice-password");
        EdgeConfig edge = cfg.section(OverlaySections.EDGE, EdgeConfig.class);
        assertThat(edge.tunnels().labels()).containsEntry("country", "us").containsEntry("asn", "7922");
        assertThat(edge.egress().allow()).containsExactly(Cidr.parse("127.0.0.0/8"));
        assertThat(edge.egress().denyPorts()).containsExactlyInAnyOrder(25, 465);
        assertThat(edge.summary()).doesNotContain("edge-secret");
    }

    @Test
    void anEdgeWithoutEgressGetsTheDefaultPolicy() {
        EdgeConfig edge = parse("""
                edge: { servers: [ "wss://127.0.0.1:8443" ], id: e1, secret: "edge-secret" }
                """).section(OverlaySections.EDGE, EdgeConfig.class);
        assertThat(edge.egress().allow()).isEmpty();
        assertThat(edge.egress().denyPorts()).containsExactly(25);
    }

    @Test
    void anOpenProxyIsRefusedUnlessAskedFor() {
        assertThat(problems("""
                pop: { socks: "127.0.0.1:1080", edges: { listen_addr: "127.0.0.1:8443", users: [ { id: e1, secret: "edge-secret" } ] } }
                """)).anyMatch(p -> p.startsWith("pop.users:") && p.contains("open proxy"));
        Pop.Config open = parse("""
                pop: { socks: "127.0.0.1:1080", allow_open: true, edges: { users: [ { id: e1, secret: "edge-secret" } ] } }
                """).section(OverlaySections.POP, Pop.Config.class);
        assertThat(open.open()).isTrue();
        assertThat(open.summary()).contains("OPEN");
    }

    @Test
    void mistakesAreRefusedWithTheirPaths() {
        assertThat(problems("""
                pop:
                  socks: "127.0.0.1"
                  users: [ { id: al-ice, password: short }, { id: bob } ]
                  sources: [ { network: "10.0.0.0/40", user: alice }, { network: 10.0.0.0/8, user: carol } ]
                  colour: blue
                edge:
                  servers: [ "ws://127.0.0.1:8443" ]
                  id: e1
                  secret: "edge-secret"
                  services: [ { name: web, local: "http://127.0.0.1:80" } ]
                  egress: { allow: [ "not-a-network" ], deny_ports: [ "0" ], colour: red }
                """)).anyMatch(p -> p.startsWith("pop.socks:") && p.contains("port is required"))
                .anyMatch(p -> p.startsWith("pop.users[0].id:") && p.contains("'-'"))
                .anyMatch(p -> p.startsWith("pop.users[0].password:") && p.contains("value not shown") && !p.contains("short"))
                .anyMatch(p -> p.startsWith("pop.users[1].password:"))
                .anyMatch(p -> p.startsWith("pop.sources[0].network:") && p.contains("prefix"))
                .anyMatch(p -> p.startsWith("pop.sources[1].user:") && p.contains("carol"))
                .anyMatch(p -> p.startsWith("pop.colour:"))
                .anyMatch(p -> p.startsWith("pop.edges:") && p.contains("required"))
                .anyMatch(p -> p.startsWith("edge.services:") && p.contains("publishes no services"))
                .anyMatch(p -> p.startsWith("edge.egress.allow:") && p.contains("not-a-network"))
                .anyMatch(p -> p.startsWith("edge.egress.deny_ports:"))
                .anyMatch(p -> p.startsWith("edge.egress.colour:"));
    }

    @Test
    void userLimitsAndRoutingAsDocumented() {
        Pop.Config pop = parse("""
                pop:
                  socks: "127.0.0.1:1080"
                  users:
                    - { id: alice, password: "alice-password", max_connections: 100, max_new_per_second: 20,
                        bandwidth: { up: 8mbit, down: 80mbit }, quota: { bytes: 10GB, period: month } }
                    - { id: bob, password: "bob-password", bandwidth: 1MB/s, quota: 512MiB,
                        routing: { mode: timed, interval: 5m, labels: { country: US } } }
                  edges: { users: [ { id: e1, secret: "edge-secret" } ] }
                """).section(OverlaySections.POP, Pop.Config.class);
        Store.Limits a = pop.users().get(0).limits();
        assertThat(a.maxConnections()).isEqualTo(100);
        assertThat(a.maxNewPerSecond()).isEqualTo(20);
        assertThat(a.bytesPerSecondIn()).isEqualTo(1_000_000);
        assertThat(a.bytesPerSecondOut()).isEqualTo(10_000_000);
        assertThat(a.quotaBytes()).isEqualTo(10_000_000_000L);
        assertThat(a.quotaPeriod()).isEqualTo(Store.QuotaPeriod.MONTH);
        Store.Limits b = pop.users().get(1).limits();
        assertThat(b.bytesPerSecondIn()).isEqualTo(1_000_000).isEqualTo(b.bytesPerSecondOut());
        assertThat(b.quotaBytes()).isEqualTo(512L << 20);
        assertThat(b.quotaPeriod()).isEqualTo(Store.QuotaPeriod.TOTAL);
        assertThat(pop.routing().get("bob")).isEqualTo(new RoutingPolicy(RoutingPolicy.Mode.TIMED, java.time.Duration.ofMinutes(5), null,
                Map.of("country", "us")));
        assertThat(problems("""
                pop:
                  socks: "127.0.0.1:1080"
                  users:
                    - { id: alice, password: "alice-password", quota: { period: week }, bandwidth: { up: fast }, routing: { mode: timed } }
                    - { id: bob, password: "bob-password", routing: { mode: manual } }
                  edges: { users: [ { id: e1, secret: "edge-secret" } ] }
                """)).anyMatch(p -> p.startsWith("pop.users[0].quota.bytes:"))
                .anyMatch(p -> p.startsWith("pop.users[0].quota.period:"))
                .anyMatch(p -> p.startsWith("pop.users[0].bandwidth.up:"))
                .anyMatch(p -> p.startsWith("pop.users[0].routing.interval:"))
                .anyMatch(p -> p.startsWith("pop.users[1].routing.edge:"));
    }

    @Test
    void diagnosticsZeroRttAndUsageFileAsDocumented() {
        Pop.Config pop = parse("""
                pop:
                  socks: "127.0.0.1:1080"
                  users: [ { id: alice, password: "alice-password" } ]
                  browser_info: true
                  unstable: { jitter: 80ms, success_rate: 0.9, failures_in_a_row: 5 }
                  zero_rtt: { socks: false, http_connect: true, first_flight_wait: 20ms }
                  usage: { file: /var/lib/titan/usage.json, flush_interval: 2s }
                  edges: { users: [ { id: e1, secret: "edge-secret" } ] }
                """).section(OverlaySections.POP, Pop.Config.class);
        assertThat(pop.browserInfo()).isTrue();
        assertThat(pop.unstable()).isEqualTo(new Diagnostics.Thresholds(80, 0.9, 5));
        assertThat(pop.zeroRtt()).isEqualTo(new Pop.ZeroRtt(false, true, java.time.Duration.ofMillis(20)));
        assertThat(pop.usage()).isEqualTo(new Pop.UsageStore(java.nio.file.Path.of("/var/lib/titan/usage.json"), java.time.Duration.ofSeconds(2)));
        assertThat(problems("""
                pop:
                  socks: "127.0.0.1:1080"
                  users: [ { id: alice, password: "alice-password" } ]
                  unstable: { success_rate: 1.5 }
                  usage: { flush_interval: 1s }
                  edges: { users: [ { id: e1, secret: "edge-secret" } ] }
                """)).anyMatch(p -> p.startsWith("pop.unstable.success_rate:")).anyMatch(p -> p.startsWith("pop.usage.file:"));
    }
}
