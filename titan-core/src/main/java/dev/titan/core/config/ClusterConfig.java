package dev.titan.core.config;

import dev.titan.core.endpoint.AddressListParser;
import dev.titan.core.config.ConfigNode.Range;
import java.time.Duration;
import java.util.List;

/**
 * A named set of endpoints and everything that decides which one a connection goes to: the
 * endpoint source, probing, scoring, the selector's active set, the balancer, pools and outlier
 * ejection. Every key of seed 001's {@code remotes} and {@code pools} blocks lives here.
 */
public record ClusterConfig(
        String name,
        int defaultRemotePort,
        Provider provider,
        Probing probing,
        ScoringConfig scoring,
        Selector selector,
        Balancer balancer,
        Pools pools,
        Outlier outlier,
        int connectAttempts) {

    /** Where endpoints come from: an inline list or an IP-list file; host names are resolved by DNS. */
    public record Provider(String type, List<String> endpoints, String filePath, boolean watch,
                           Duration dnsRefresh, int maxTracked) {
    }

    public record Probing(String type, Duration interval, Duration timeout, int probeCandidateCount,
                          Initial initial, String httpPath, String httpHost, int httpExpectMin, int httpExpectMax) {
    }

    public record Initial(boolean enabled, int maxConcurrency, Duration timeout, int maxCandidates) {
    }

    public record Selector(Duration evaluationInterval, int activeSetSize, double minScoreThreshold,
                           Duration debounceInterval, double scoreImprovementThreshold) {
    }

    public record Balancer(String algorithm, int virtualNodes) {
        public static final List<String> ALGORITHMS = List.of("least_connections", "round_robin", "random", "weighted",
                "least_connections_weight", "ip_hash", "consistent_hash", "p2c_peak_ewma");
    }

    public record Pools(Duration dialTimeout, Duration idleTimeout, Duration drainTimeout, String strategy,
                        int sizePerRemote, int minSize, int maxSize, Duration scalingInterval,
                        double targetBufferRatio, int scaleUpIncrement, int scaleDownIncrement) {
        public boolean enabled() {
            return strategy.equals("static") ? sizePerRemote > 0 : maxSize > 0;
        }
    }

    /** Passive ejection: an endpoint whose real connections fail is taken out before the next probe. */
    public record Outlier(int consecutiveFailures, Duration baseEjectionTime, Duration maxEjectionTime) {
    }

    /**
     * A cluster of peers that a module registers at run time (a tunnel client's replicas, edges):
     * not probed (their tunnels' PINGs feed the scores) and not pooled; every peer that is up is
     * in the active set, the fewest active streams wins, a connect is tried on up to
     * {@code attempts} peers with the same first bytes, and a peer that refuses one is passed over
     * for 1 s, doubling per refusal in a row up to 30 s (while another can take it).
     */
    public static ClusterConfig peers(String name, int maxPeers, int attempts, Duration openTimeout) {
        Provider provider = new Provider("peers", List.of(), null, false, Duration.ofMinutes(1), Math.max(16, maxPeers));
        Probing probing = new Probing("none", Duration.ofMinutes(1), Duration.ofSeconds(1), 1,
                new Initial(false, 1, Duration.ofSeconds(1), 1), "/", null, 200, 399);
        Selector selector = new Selector(Duration.ofSeconds(1), maxPeers, 0, Duration.ZERO, 0);
        Pools pools = new Pools(openTimeout, Duration.ofMinutes(10), Duration.ZERO, "static", 0, 0, 0, Duration.ofSeconds(1), 0, 1, 1);
        Outlier outlier = new Outlier(1, Duration.ofSeconds(1), Duration.ofSeconds(30));
        return new ClusterConfig(name, 0, provider, probing, ScoringConfig.DEFAULT, selector,
                new Balancer("least_connections", 160), pools, outlier, Math.max(1, attempts));
    }

    static ClusterConfig read(String name, ConfigNode n) {
        return read(name, n, null);
    }

    /**
     * Reads a cluster. {@code seedPools} is seed 001's top-level {@code pools} block (which also
     * carries the balancing {@code algorithm}); null for Titan's own layout, where the cluster holds
     * {@code pools} and {@code balancer}.
     */
    static ClusterConfig read(String name, ConfigNode n, ConfigNode seedPools) {
        int port = n.integer("default_remote_port", 80, 1, 65535);
        Provider provider = readProvider(n, port);
        Probing probing = readProbing(n.child("probing"));
        ScoringConfig scoring = ScoringConfig.read(n.child("scoring"));
        Selector selector = readSelector(n.child("selector"));
        Balancer balancer;
        Pools pools;
        if (seedPools == null) {
            ConfigNode b = n.child("balancer");
            balancer = new Balancer(
                    b.choice("algorithm", "least_connections", Balancer.ALGORITHMS),
                    b.integer("virtual_nodes", 160, 1, 10_000));
            b.finish();
            pools = readPools(n.child("pools"));
        } else {
            balancer = new Balancer(seedPools.choice("algorithm", "least_connections", Balancer.ALGORITHMS), 160);
            pools = readPools(seedPools);
        }
        ConfigNode o = n.child("outlier");
        Outlier outlier = new Outlier(
                o.integer("consecutive_failures", 2, 1, 1000),
                o.duration("base_ejection_time", Duration.ofSeconds(10), Duration.ofMillis(1)),
                o.duration("max_ejection_time", Duration.ofMinutes(5), Duration.ofMillis(1)));
        o.finish();
        int attempts = n.integer("connect_attempts", 3, 1, 20);
        n.finish();
        return new ClusterConfig(name, port, provider, probing, scoring, selector, balancer, pools, outlier, attempts);
    }

    private static Provider readProvider(ConfigNode n, int defaultPort) {
        List<String> inline = n.strings("endpoints");
        boolean hasInline = n.has("endpoints");
        ConfigNode p = n.child("provider");
        String type = p.choice("type", hasInline ? "static" : (p.isPresent() ? "file" : "static"), List.of("static", "file"));
        ConfigNode f = p.child("file");
        String path = f.string("path", null);
        boolean watch = f.bool("watch", false);
        f.finish();
        ConfigNode s = p.child("static");
        List<String> staticList = s.strings("endpoints");
        s.finish();
        Duration dns = p.duration("dns_refresh", Duration.ofSeconds(30), Duration.ofSeconds(1));
        int maxTracked = p.integer("max_tracked", 4096, 16, 1_000_000);
        p.finish();
        List<String> endpoints = hasInline ? inline : staticList;
        if (type.equals("file")) {
            if (path == null || path.isBlank()) {
                p.problem("file.path", "is required when provider.type is file");
            }
            if (hasInline) {
                n.problem("endpoints", "cannot be combined with a file provider");
            }
        } else if (endpoints.isEmpty()) {
            n.problem("endpoints", "at least one endpoint is required (or set provider.type: file)");
        } else {
            // the syntax is checked here, so a bad entry is a configuration error with its key (names resolve at start)
            String key = hasInline ? "endpoints" : "provider.static.endpoints";
            for (int i = 0; i < endpoints.size(); i++) {
                for (String problem : AddressListParser.parse(List.of(endpoints.get(i)), defaultPort, "").problems()) {
                    n.problem(key + "[" + i + "]", problem.substring(problem.indexOf(": ") + 2));
                }
            }
        }
        return new Provider(type, List.copyOf(endpoints), path, watch, dns, maxTracked);
    }

    private static Probing readProbing(ConfigNode n) {
        String type = n.choice("type", "tcp", List.of("tcp", "http", "none"));
        Duration interval = n.duration("interval", Duration.ofSeconds(15), Duration.ofMillis(10));
        Duration timeout = n.duration("timeout", Duration.ofSeconds(1), Duration.ofMillis(1));
        int count = n.integer("probe_candidate_count", 10, 1, 100_000);
        ConfigNode i = n.child("initial");
        Initial initial = new Initial(
                i.bool("enabled", true),
                i.integer("max_concurrency", 100, 1, 100_000),
                i.duration("timeout", Duration.ofMillis(500), Duration.ofMillis(1)),
                i.integer("max_candidates", 4096, 1, 1_000_000));
        i.finish();
        ConfigNode h = n.child("http");
        String path = h.string("path", "/");
        if (!path.startsWith("/")) {
            h.problem("path", "must start with /, got '" + path + "'");
        }
        String host = h.string("host", null);
        String expect = h.string("expect_status", "200-399");
        int lo = 200;
        int hi = 399;
        try {
            String[] parts = expect.split("-", 2);
            lo = Integer.parseInt(parts[0].trim());
            hi = parts.length == 2 ? Integer.parseInt(parts[1].trim()) : lo;
            if (lo < 100 || hi > 599 || lo > hi) {
                throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            h.problem("expect_status", "must be a status or a range such as 200-399, got '" + expect + "'");
        }
        h.finish();
        n.finish();
        return new Probing(type, interval, timeout, count, initial, path, host, lo, hi);
    }

    private static Selector readSelector(ConfigNode n) {
        Duration eval = n.duration("evaluation_interval", Duration.ofSeconds(30), Duration.ofMillis(10));
        int size = n.integer("active_set_size", 3, 1, 100_000);
        double threshold = n.decimal("min_score_threshold", 15.0, Range.atLeast(0));
        ConfigNode s = n.child("switching");
        Duration debounce = s.duration("debounce_interval", Duration.ofMinutes(1), Duration.ZERO);
        double improvement = s.decimal("score_improvement_threshold", 5.0, Range.atLeast(0));
        s.finish();
        n.finish();
        return new Selector(eval, size, threshold, debounce, improvement);
    }

    private static Pools readPools(ConfigNode n) {
        ConfigNode c = n.child("common");
        Duration dial = c.duration("dial_timeout", Duration.ofSeconds(1), Duration.ofMillis(1));
        Duration idle = c.duration("idle_timeout", Duration.ofMinutes(10), Duration.ofMillis(1));
        Duration drain = c.duration("drain_timeout", Duration.ofSeconds(30), Duration.ZERO);
        c.finish();
        ConfigNode s = n.child("strategy");
        String type = s.choice("type", "dynamic", List.of("static", "dynamic"));
        ConfigNode st = s.child("static");
        int sizePer = st.integer("size_per_remote", 50, 0, 100_000);
        st.finish();
        ConfigNode dy = s.child("dynamic");
        int min = dy.integer("min_size", 20, 0, 100_000);
        int max = dy.integer("max_size", 500, 0, 100_000);
        if (min > max) {
            dy.problem("min_size", "must not exceed max_size (" + max + "), got " + min);
        }
        ConfigNode sc = dy.child("scaling");
        Duration interval = sc.duration("interval", Duration.ofSeconds(1), Duration.ofMillis(10));
        double ratio = sc.decimal("target_buffer_ratio", 0.2, Range.atLeast(0));
        int up = sc.integer("scale_up_increment", 10, 1, 100_000);
        int down = sc.integer("scale_down_increment", 5, 1, 100_000);
        sc.finish();
        dy.finish();
        s.finish();
        n.finish();
        return new Pools(dial, idle, drain, type, sizePer, min, max, interval, ratio, up, down);
    }
}
