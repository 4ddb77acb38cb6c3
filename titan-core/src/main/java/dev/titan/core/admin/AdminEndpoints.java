package dev.titan.core.admin;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.titan.core.cluster.Cluster;
import dev.titan.core.cluster.EndpointStatus;
import dev.titan.core.config.HostPort;
import dev.titan.core.config.TitanConfig;
import dev.titan.core.engine.Engine;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Titan's own endpoints beside its data plane: the Prometheus metrics and health on
 * {@code metrics.listen_addr}, and the admin API on {@code admin.listen_addr} (the status view of
 * every listener and cluster with each endpoint's score breakdown, behind a bearer token). The
 * engine starts them with its configuration and restarts them when a reload changes them.
 */
public final class AdminEndpoints implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminEndpoints.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Engine engine;
    private AdminHttp metricsHttp;
    private AdminHttp adminHttp;

    public AdminEndpoints(Engine engine) {
        this.engine = engine;
    }

    public InetSocketAddress metricsAddress() {
        return metricsHttp == null ? null : metricsHttp.address();
    }

    public InetSocketAddress adminAddress() {
        return adminHttp == null ? null : adminHttp.address();
    }

    /** Restarts the endpoints when {@code next} changes their settings. */
    public void restartIfChanged(TitanConfig current, TitanConfig next) {
        if (!next.metrics().equals(current.metrics()) || !next.admin().equals(current.admin())) {
            close();
            start(next);
        }
    }

    @Override
    public void close() {
        if (metricsHttp != null) {
            metricsHttp.close();
            metricsHttp = null;
        }
        if (adminHttp != null) {
            adminHttp.close();
            adminHttp = null;
        }
    }

    /** Starts the endpoints {@code c} enables. */
    public void start(TitanConfig c) {
        if (c.metrics().enabled()) {
            metricsHttp = new AdminHttp("metrics", null)
                    .publicRoute("GET", c.metrics().path(), r -> CompletableFuture.completedFuture(
                            new AdminHttp.Response(200, "text/plain; version=0.0.4; charset=utf-8", engine.metrics().scrape())))
                    .publicRoute("GET", "/healthz", r -> CompletableFuture.completedFuture(health()));
            metricsHttp.start(engine.transport(), c.metrics().listenAddr());
        }
        if (c.admin().enabled()) {
            String token = c.admin().token() != null ? c.admin().token() : generatedToken(c.admin().tokenFile());
            adminHttp = new AdminHttp("admin API", token)
                    .publicRoute("GET", "/healthz", r -> CompletableFuture.completedFuture(health()))
                    .route("GET", "/api/v1/status", r -> status());
            adminHttp.start(engine.transport(), c.admin().listenAddr());
        }
    }

    private AdminHttp.Response health() {
        return engine.stopping() ? AdminHttp.Response.text(503, "stopping\n") : AdminHttp.Response.text(200, "ok\n");
    }

    /** Creates a random admin token and stores it, readable by the owner only, where {@code titan status} looks. */
    static String generatedToken(String file) {
        byte[] raw = new byte[32];
        new SecureRandom().nextBytes(raw);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        Path p = Path.of(file);
        try {
            Files.createDirectories(p.toAbsolutePath().getParent());
            Files.deleteIfExists(p);
            try {
                Files.createFile(p, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (UnsupportedOperationException e) {
                Files.createFile(p);
            }
            Files.writeString(p, token + "\n");
            log.info("admin API token generated and written to {} (set admin.token to choose one)", p);
        } catch (IOException e) {
            throw new IllegalStateException("admin.token_file: cannot write " + p + ": " + e.getMessage(), e);
        }
        return token;
    }

    /** The status view: every cluster's endpoints with their score breakdown, and every listener. */
    public CompletableFuture<AdminHttp.Response> status() {
        Map<String, Cluster> cs = engine.clusters();
        Map<String, CompletableFuture<List<EndpointStatus>>> parts = new LinkedHashMap<>();
        cs.forEach((n, c) -> parts.put(n, c.status()));
        return CompletableFuture.allOf(parts.values().toArray(new CompletableFuture[0])).thenApply(v -> {
            ObjectNode root = JSON.createObjectNode();
            ArrayNode ls = root.putArray("listeners");
            engine.listeners().forEach((n, h) -> {
                ObjectNode l = ls.addObject();
                l.put("name", n);
                l.put("protocol", h.config().protocol());
                l.put("address", HostPort.format(h.boundAddress()));
                l.put("cluster", h.config().clusterSummary());
                l.put("active_connections", h.activeConnections());
            });
            ArrayNode arr = root.putArray("clusters");
            parts.forEach((n, f) -> {
                Cluster c = cs.get(n);
                ObjectNode co = arr.addObject();
                co.put("name", n);
                co.put("addresses", c.addressCount());
                co.put("balancer", c.config().balancer().algorithm());
                ArrayNode active = co.putArray("active_set");
                c.active().forEach(e -> active.add(e.id()));
                ArrayNode eps = co.putArray("endpoints");
                for (EndpointStatus s : f.join()) {
                    ObjectNode e = eps.addObject();
                    e.put("endpoint", s.endpoint());
                    e.put("state", s.state());
                    e.put("score", round(s.score().score()));
                    e.put("latency_score", round(s.score().latencyScore()));
                    e.put("jitter_score", round(s.score().jitterScore()));
                    e.put("success_score", round(s.score().successScore()));
                    e.put("penalty", round(s.score().penalty()));
                    e.put("bonus", round(s.score().bonus()));
                    e.put("latency_ms", round(s.score().latencyMs()));
                    e.put("jitter_ms", round(s.score().jitterMs()));
                    e.put("success_rate", round(s.score().successRate()));
                    e.put("consecutive_failures", s.score().consecutiveFailures());
                    e.put("checks", s.score().checks());
                    e.put("active_connections", s.activeConnections());
                    e.put("total_connections", s.totalConnections());
                    e.put("pooled_idle", s.pooledIdle());
                    e.put("weight", s.weight());
                    if (!s.labels().isEmpty()) {
                        ObjectNode labels = e.putObject("labels");
                        s.labels().forEach(labels::put);
                    }
                }
            });
            try {
                return AdminHttp.Response.json(JSON.writeValueAsString(root) + "\n");
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static double round(double v) {
        return Double.isNaN(v) ? 0 : Math.round(v * 1000) / 1000.0;
    }
}
