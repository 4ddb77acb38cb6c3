package dev.titan.core.config;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** The whole configuration of one Titan process (one YAML file, or a directory of them merged). */
public record TitanConfig(
        Logging logging,
        Metrics metrics,
        Admin admin,
        Transport transport,
        List<ListenerConfig> listeners,
        Map<String, ClusterConfig> clusters,
        Duration drainTimeout,
        Map<String, Object> sections) {

    /** The value a {@link SectionReader} read for {@code name}, or null when the file has no such section. */
    public <T> T section(String name, Class<T> type) {
        Object v = sections.get(name);
        return v == null ? null : type.cast(v);
    }

    public record Logging(String level, Map<String, String> levels, String format, String output) {
        public static final List<String> LEVELS = List.of("trace", "debug", "info", "warn", "error", "off");
    }

    public record Metrics(boolean enabled, InetSocketAddress listenAddr, String path, int endpointLabelLimit) {
    }

    /**
     * The admin API (read-only status now). {@code token} may be null: Titan then generates one at
     * start and writes it to {@code tokenFile} (mode 0600), where {@code titan status} finds it.
     */
    public record Admin(boolean enabled, InetSocketAddress listenAddr, String token, String tokenFile) {
        @Override
        public String toString() {
            return "Admin[enabled=" + enabled + ", listenAddr=" + listenAddr + ", token=" + (token == null ? "generated" : "***")
                    + ", tokenFile=" + tokenFile + "]";
        }
    }

    /** Event-loop transport: io_uring, else epoll, else NIO unless told otherwise; 0 threads means one per core. */
    public record Transport(String type, int workerThreads) {
        public static final List<String> TYPES = List.of("auto", "epoll", "nio", "io_uring");
    }

    public ClusterConfig cluster(String name) {
        return clusters.get(name);
    }
}
