package dev.titan.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    /** The listener protocols the forwarder module registers. */
    private static final java.util.List<String> PROTOCOLS = java.util.List.of("tcp", "udp");

    private final ConfigLoader loader = new ConfigLoader(Map.of("PORT", "7000", "HOST", "127.0.0.2")::get, Map.of(), PROTOCOLS);

    static String resource(String name) throws IOException {
        try (InputStream in = ConfigLoaderTest.class.getResourceAsStream("/configs/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static ConfigException refused(String yaml) {
        return catchThrowableOfType(ConfigException.class, () -> new ConfigLoader(k -> null, Map.of(), PROTOCOLS).parse("test.yaml", yaml));
    }

    @Test
    void seed001ConfigLoadsUnchangedAsOneListenerAndOneCluster() throws IOException {
        TitanConfig c = loader.parse("seed.yaml", resource("seed-001.yaml"));
        assertThat(c.listeners()).hasSize(1);
        ListenerConfig l = c.listeners().get(0);
        assertThat(l.listenAddr()).isEqualTo(new InetSocketAddress("127.0.0.1", 1234));
        assertThat(l.cluster()).isEqualTo("default");
        ClusterConfig cl = c.cluster("default");
        assertThat(cl.provider().type()).isEqualTo("file");
        assertThat(cl.provider().filePath()).isEqualTo("./ip_list.txt");
        assertThat(cl.probing().initial().maxConcurrency()).isEqualTo(100);
        assertThat(cl.scoring()).isEqualTo(ScoringConfig.DEFAULT);
        assertThat(cl.selector()).isEqualTo(new ClusterConfig.Selector(Duration.ofSeconds(30), 3, 15.0, Duration.ofMinutes(1), 5.0));
        assertThat(cl.balancer().algorithm()).isEqualTo("least_connections");
        assertThat(cl.pools().strategy()).isEqualTo("dynamic");
        assertThat(cl.pools().minSize()).isEqualTo(20);
        assertThat(cl.pools().maxSize()).isEqualTo(500);
        assertThat(cl.pools().targetBufferRatio()).isEqualTo(0.2);
        assertThat(cl.pools().drainTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.logging().level()).isEqualTo("debug");
        assertThat(c.metrics().listenAddr()).isEqualTo(new InetSocketAddress("127.0.0.1", 9099));
    }

    @Test
    void omittedKeysTakeTheSeedDefaults() {
        TitanConfig c = loader.parse("min.yaml", """
                listeners: [ { listen_addr: "127.0.0.1:0", cluster: web } ]
                clusters: { web: { endpoints: [ "10.0.0.1" ] } }
                """);
        ClusterConfig cl = c.cluster("web");
        assertThat(cl.defaultRemotePort()).isEqualTo(80);
        assertThat(cl.probing().interval()).isEqualTo(Duration.ofSeconds(15));
        assertThat(cl.probing().timeout()).isEqualTo(Duration.ofSeconds(1));
        assertThat(cl.probing().probeCandidateCount()).isEqualTo(10);
        assertThat(cl.probing().initial()).isEqualTo(new ClusterConfig.Initial(true, 100, Duration.ofMillis(500), 4096));
        assertThat(cl.scoring()).isEqualTo(ScoringConfig.DEFAULT);
        assertThat(cl.pools().dialTimeout()).isEqualTo(Duration.ofSeconds(1));
        assertThat(cl.pools().idleTimeout()).isEqualTo(Duration.ofMinutes(10));
        assertThat(cl.pools().sizePerRemote()).isEqualTo(50);
        assertThat(cl.pools().scalingInterval()).isEqualTo(Duration.ofSeconds(1));
        assertThat(cl.pools().scaleUpIncrement()).isEqualTo(10);
        assertThat(cl.pools().scaleDownIncrement()).isEqualTo(5);
        assertThat(c.logging()).isEqualTo(new TitanConfig.Logging("info", Map.of(), "text", "stdout"));
        assertThat(c.metrics().path()).isEqualTo("/metrics");
    }

    @Test
    void everyProblemIsReportedAtOnceWithItsFullKeyPath() throws IOException {
        String yaml = resource("seed-001.yaml")
                .replace("ewma_alpha: 0.2", "ewma_alpha: 1.5")
                .replace("interval: \"15s\"", "intervall: \"15s\"")
                .replace("min_size: 20", "min_size: lots")
                .replace("algorithm: \"least_connections\"", "algorithm: \"fastest\"")
                .replace("level: \"debug\"", "level: \"loud\"");
        ConfigException e = refused(yaml);
        assertThat(e.problems()).containsExactlyInAnyOrder(
                "remotes.scoring.latency.ewma_alpha: must be in (0,1], got 1.5",
                "remotes.probing.intervall: unknown key",
                "pools.strategy.dynamic.min_size: must be a whole number, got 'lots'",
                "pools.algorithm: must be one of least_connections, round_robin, random, weighted, least_connections_weight, "
                        + "ip_hash, consistent_hash, p2c_peak_ewma, got 'fastest'",
                "logging.level: must be one of trace, debug, info, warn, error, off, got 'loud'");
    }

    @Test
    void titanLayoutProblemsNameTheirPaths() {
        ConfigException e = refused("""
                listeners:
                  - { name: a, listen_addr: "127.0.0.1:99999", cluster: nope }
                  - { name: a, listen_addr: "127.0.0.1:1", cluster: web, protocol: sctp }
                clusters:
                  web:
                    endpoints: []
                    selector: { active_set_size: 0 }
                    scoring: { jitter: { base_jitter: 300ms, max_acceptable_jitter: 10ms } }
                    probing: { timeout: soon }
                    balancer: { algorithm: round_robin, colour: blue }
                admin: { token: short }
                """);
        assertThat(e.problems()).contains(
                "listeners[0].listen_addr: '127.0.0.1:99999': port must be 0-65535",
                "listeners[0].cluster: no cluster named 'nope' (defined: web)",
                "listeners[1].name: duplicate listener name 'a'",
                "listeners[1].protocol: must be one of tcp, udp, got 'sctp'",
                "clusters.web.endpoints: at least one endpoint is required (or set provider.type: file)",
                "clusters.web.selector.active_set_size: must be in [1, 100000], got 0",
                "clusters.web.scoring.jitter.max_acceptable_jitter: must be greater than base_jitter (300ms), got 10ms",
                "clusters.web.probing.timeout: 'soon' is not a duration (use e.g. 500ms, 15s, 1m, 2h)",
                "clusters.web.balancer.colour: unknown key",
                "admin.token: must be at least 16 characters (value not shown)");
        assertThat(e.getMessage()).doesNotContain("short");
    }

    @Test
    void environmentVariablesAreSubstituted() {
        TitanConfig c = loader.parse("env.yaml", """
                listeners: [ { listen_addr: "${HOST}:${PORT}", cluster: web } ]
                clusters: { web: { endpoints: [ "10.0.0.1:${BACKEND_PORT:-8080}" ] } }
                """);
        assertThat(c.listeners().get(0).listenAddr()).isEqualTo(new InetSocketAddress("127.0.0.2", 7000));
        assertThat(c.cluster("web").provider().endpoints()).containsExactly("10.0.0.1:8080");
    }

    @Test
    void aMissingEnvironmentVariableIsAProblemAtItsPath() {
        ConfigException e = refused("""
                listeners: [ { listen_addr: "127.0.0.1:${NOPE}", cluster: web } ]
                clusters: { web: { endpoints: [ "10.0.0.1" ] } }
                """);
        assertThat(e.problems()).anyMatch(p -> p.startsWith("listeners[0].listen_addr: environment variable NOPE is not set"));
    }

    @Test
    void yamlSyntaxErrorsGiveTheLine() {
        ConfigException e = refused("listeners:\n  - { name: a\n");
        assertThat(e.getMessage()).contains("test.yaml:").contains("not valid YAML");
    }

    @Test
    void duplicateKeysAreRefused() {
        assertThatThrownBy(() -> loader.parse("dup.yaml", "metrics: {}\nmetrics: {}\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("Duplicate field 'metrics'");
    }

    @Test
    void aDirectoryIsOneConfiguration(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("10-web.yaml"), """
                listeners: [ { name: web, listen_addr: "127.0.0.1:0", cluster: web } ]
                clusters: { web: { endpoints: [ "10.0.0.1" ] } }
                """);
        Files.writeString(dir.resolve("20-db.yml"), """
                listeners: [ { name: db, listen_addr: "127.0.0.1:0", cluster: db } ]
                clusters: { db: { endpoints: [ "10.0.0.2:5432" ] } }
                """);
        Files.writeString(dir.resolve("notes.txt"), "not a config");
        TitanConfig c = loader.load(dir);
        assertThat(c.listeners()).extracting(ListenerConfig::name).containsExactly("web", "db");
        assertThat(c.clusters()).containsOnlyKeys("web", "db");

        Files.writeString(dir.resolve("30-again.yaml"), "clusters: { web: { endpoints: [ \"10.0.0.3\" ] } }\n");
        assertThatThrownBy(() -> loader.load(dir)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("clusters.web: defined again in");
    }

    @Test
    void seedFilesInADirectoryAreNamedAfterTheirFile(@TempDir Path dir) throws IOException {
        String seed = resource("seed-001.yaml");
        Files.writeString(dir.resolve("eu.yaml"), seed.replace("127.0.0.1:9099", "127.0.0.1:9100")
                .replaceAll("(?s)metrics:.*?path: \"/metrics\"\n", "").replaceAll("(?s)logging:.*?output: \"stdout\"\n", ""));
        Files.writeString(dir.resolve("us.yaml"), seed.replace("127.0.0.1:1234", "127.0.0.1:1235"));
        TitanConfig c = loader.load(dir);
        assertThat(c.clusters()).containsOnlyKeys("eu", "us");
        assertThat(c.listeners()).extracting(ListenerConfig::name).containsExactly("eu", "us");
    }

    @Test
    void durationsParseTheSeedForms() {
        assertThat(Durations.parse("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(Durations.parse("15s")).isEqualTo(Duration.ofSeconds(15));
        assertThat(Durations.parse("1m")).isEqualTo(Duration.ofMinutes(1));
        assertThat(Durations.parse("1h30m")).isEqualTo(Duration.ofMinutes(90));
        assertThat(Durations.parse("1.5s")).isEqualTo(Duration.ofMillis(1500));
        assertThatThrownBy(() -> Durations.parse("15")).hasMessageContaining("not a duration");
        assertThat(Durations.format(Duration.ofSeconds(90))).isEqualTo("90s");
    }

    @Test
    void aBinaryFileSaysItIsNotText(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("titan.yaml");
        Files.write(f, new byte[] {(byte) 0x89, 'P', 'N', 'G', 0, (byte) 0xff, (byte) 0xfe});
        assertThatThrownBy(() -> loader.load(f)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("titan.yaml").hasMessageContaining("is not UTF-8 text");
    }

    @Test
    void aProblemInADirectoryNamesTheFileThatSetIt(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("10-web.yaml"), """
                listeners: [ { name: web, listen_addr: "127.0.0.1:0", cluster: web } ]
                clusters: { web: { endpoints: [ "10.0.0.1" ] } }
                """);
        Files.writeString(dir.resolve("20-db.yaml"), """
                listeners: [ { name: db, listen_addr: "127.0.0.1:0", cluster: db, max_conections: 5 } ]
                clusters: { db: { endpoints: [ "10.0.0.2:5432" ], probing: { interval: fast } } }
                """);
        assertThatThrownBy(() -> loader.load(dir)).isInstanceOf(ConfigException.class)
                .satisfies(e -> assertThat(((ConfigException) e).problems()).containsExactlyInAnyOrder(
                        dir.resolve("20-db.yaml") + ": listeners[1].max_conections: unknown key",
                        dir.resolve("20-db.yaml") + ": clusters.db.probing.interval: 'fast' is not a duration (use e.g. 500ms, 15s, 1m, 2h)"));
    }

    @Test
    void anInvalidEndpointAddressIsAConfigurationErrorWithItsKey() {
        assertThatThrownBy(() -> loader.parse("t.yaml", """
                listeners: [ { listen_addr: "127.0.0.1:0", cluster: c } ]
                clusters: { c: { endpoints: [ "10.0.0.1", "10.0.0.300:80", "10.0.0.0/40" ] } }
                """)).isInstanceOf(ConfigException.class)
                .satisfies(e -> assertThat(((ConfigException) e).problems()).hasSize(2)
                        .anySatisfy(p -> assertThat(p).startsWith("clusters.c.endpoints[1]: '10.0.0.300:80'"))
                        .anySatisfy(p -> assertThat(p).startsWith("clusters.c.endpoints[2]: '10.0.0.0/40'")));
    }

    @Test
    void aListenerReadsByItsIngress() {
        TitanConfig c = loader.parse("t.yaml", """
                listeners:
                  - { name: tls, listen_addr: "127.0.0.1:0", ingress: sni, ingress_timeout: 2s, cluster: c }
                  - { name: raw, listen_addr: "127.0.0.1:0", cluster: c }
                clusters: { c: { endpoints: [ "10.0.0.1" ] } }
                """);
        assertThat(c.listeners()).extracting(ListenerConfig::ingress).containsExactly("sni", "tcp");
        assertThat(c.listeners().getFirst().ingressTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThatThrownBy(() -> loader.parse("t.yaml", """
                listeners: [ { protocol: udp, listen_addr: "127.0.0.1:0", ingress: http, cluster: c } ]
                clusters: { c: { endpoints: [ "10.0.0.1" ] } }
                """)).hasMessageContaining("listeners[0].ingress: must be tcp for a udp listener");
    }
}
