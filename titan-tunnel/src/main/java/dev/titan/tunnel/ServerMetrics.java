package dev.titan.tunnel;

import dev.titan.core.cluster.Cluster;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The tunnel server's meters: per client id (ids come from the configuration, so the label set is
 * bounded) tunnels connected, streams active, total and passed to another replica, bytes each way,
 * the largest PING round trip among its tunnels; handshake failures by reason. Each meter is
 * registered once, and those of ids a reload removed are removed.
 */
final class ServerMetrics {
    static final List<String> HANDSHAKE_FAILURES = List.of("unknown_or_bad_secret", "timeout", "malformed", "not_allowed",
            "too_many_tunnels", "busy");

    private final TunnelServer server;
    private final TunnelAccounts accounts;
    private final Map<String, AtomicLong> handshakeFailures = new ConcurrentHashMap<>();
    private final Map<String, List<Meter>> bound = new ConcurrentHashMap<>();

    ServerMetrics(TunnelServer server, TunnelAccounts accounts) {
        this.server = server;
        this.accounts = accounts;
    }

    void failed(String reason) {
        handshakeFailures.computeIfAbsent(reason, k -> new AtomicLong()).incrementAndGet();
    }

    Map<String, Long> handshakeFailures() {
        Map<String, Long> out = new java.util.HashMap<>();
        handshakeFailures.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    /** Registers the meters of the configured ids (once each) and removes those of ids no longer configured. */
    List<Meter> bind(MeterRegistry registry, List<TunnelServerConfig.User> users, java.util.function.Predicate<String> configured) {
        List<Meter> all = new ArrayList<>();
        for (TunnelServerConfig.User u : users) {
            all.addAll(bound.computeIfAbsent(u.id(), id -> clientMeters(registry, id)));
        }
        bound.keySet().removeIf(id -> {
            if (id.isEmpty() || configured.test(id)) {
                return false;
            }
            bound.get(id).forEach(registry::remove);
            return true;
        });
        all.addAll(bound.computeIfAbsent("", k -> {
            List<Meter> meters = new ArrayList<>();
            for (String reason : HANDSHAKE_FAILURES) {
                AtomicLong n = handshakeFailures.computeIfAbsent(reason, r -> new AtomicLong());
                meters.add(FunctionCounter.builder("titan_tunnel_handshake_failures", n, AtomicLong::get).tag("reason", reason)
                        .description("Refused or failed tunnel handshakes, and connections to the tunnel port closed as malformed")
                        .register(registry));
            }
            return meters;
        }));
        return all;
    }

    private List<Meter> clientMeters(MeterRegistry registry, String id) {
        List<Meter> meters = new ArrayList<>();
        ClientMeters m = accounts.meters(id);
        meters.add(Gauge.builder("titan_tunnel_connected", () -> server.sessions(id).size()).tag("client", id)
                .description("Tunnels of this client id that are connected").register(registry));
        meters.add(Gauge.builder("titan_tunnel_streams_active", () -> server.sessions(id).stream().mapToInt(ServerSession::activeStreams).sum())
                .tag("client", id).description("Streams open in this client's tunnels").register(registry));
        meters.add(FunctionCounter.builder("titan_tunnel_streams", m.streams, LongAdder::sum).tag("client", id)
                .description("Streams opened to this client (one per user connection)").register(registry));
        meters.add(FunctionCounter.builder("titan_tunnel_streams_redispatched", this, t -> t.retries(id)).tag("client", id)
                .description("Streams a replica of this client could not take (refused, or its tunnel ended first), passed to another")
                .register(registry));
        meters.add(FunctionCounter.builder("titan_tunnel_bytes", m.bytesToClient, LongAdder::sum).tags("client", id, "direction", "to_client")
                .baseUnit("bytes").description("Bytes relayed through this client's tunnels").register(registry));
        meters.add(FunctionCounter.builder("titan_tunnel_bytes", m.bytesFromClient, LongAdder::sum).tags("client", id, "direction", "from_client")
                .baseUnit("bytes").description("Bytes relayed through this client's tunnels").register(registry));
        meters.add(Gauge.builder("titan_tunnel_rtt_seconds", () -> server.sessions(id).stream().mapToLong(ServerSession::rttNanos).max().orElse(-1) / 1e9)
                .tag("client", id).description("The largest last PING round trip among this client's tunnels (-1: none yet)")
                .register(registry));
        return meters;
    }

    private double retries(String clientId) {
        Cluster c = server.cluster(clientId);
        return c == null ? 0 : c.stats().retries();
    }
}
