package dev.titan.overlay;

import dev.titan.core.net.Relay;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A PoP's own meters: refused credentials by protocol, failed connections by their RFC 9209 kind,
 * and each user's connections and bytes each way (one series per configured user).
 */
final class PopMeters {
    private final MeterRegistry registry;
    private final Map<String, UserMeters> users = new ConcurrentHashMap<>();

    PopMeters(MeterRegistry registry) {
        this.registry = registry;
    }

    void authFailed(String protocol) {
        Counter.builder("titan_pop_auth_failures").tag("protocol", protocol).description("Proxy connections refused for their credentials")
                .register(registry).increment();
    }

    void failed(String kind) {
        Counter.builder("titan_pop_failures").tag("kind", kind).description("User connections the PoP could not connect, by kind")
                .register(registry).increment();
    }

    /** The meters of {@code user}'s connections, counted by the relays that carry them. */
    Relay.Stats user(String user) {
        UserMeters m = users.computeIfAbsent(user, u -> new UserMeters(
                Counter.builder("titan_pop_user_connections").tag("user", u).description("Connections a user made through the PoP")
                        .register(registry),
                Counter.builder("titan_pop_user_bytes").tags("user", u, "direction", "up").baseUnit("bytes").register(registry),
                Counter.builder("titan_pop_user_bytes").tags("user", u, "direction", "down").baseUnit("bytes").register(registry)));
        m.connections.increment();
        return m;
    }

    private record UserMeters(Counter connections, Counter up, Counter down) implements Relay.Stats {
        @Override
        public void bytesFromA(long n) {
            up.increment(n);
        }

        @Override
        public void bytesFromB(long n) {
            down.increment(n);
        }

        @Override
        public void closed(Relay relay) {
        }
    }
}
