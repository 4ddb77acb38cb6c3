package dev.titan.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Users from the configuration, replaced on reload; nodes and usage kept for the life of the process. */
class ConfigStoreTest {
    private static Store.User user(String id, String secret, int max) {
        return new Store.User(id, secret.getBytes(StandardCharsets.UTF_8), new Store.Limits(max, 0, 0), null);
    }

    @Test
    void aReloadReplacesUsersAndKeepsTheUsageOfThoseWhoRemain() {
        ConfigStore store = new ConfigStore(List.of(user("alice", "a-secret", 1), user("bob", "b-secret", 2)));
        store.usage("alice").bytesIn.add(100);
        store.replaceUsers(List.of(user("alice", "a-secret", 5)));
        assertThat(store.user("alice").limits().maxConnections()).isEqualTo(5);
        assertThat(store.user("bob")).isNull();
        assertThat(store.user(null)).isNull();
        assertThat(store.usage("alice").bytesIn.sum()).isEqualTo(100);
    }

    @Test
    void secretsAreComparedNotShown() {
        Store.User u = user("alice", "a-secret", 1);
        assertThat(u.secretEquals("a-secret".getBytes(StandardCharsets.UTF_8))).isTrue();
        assertThat(u.secretEquals("a-secreT".getBytes(StandardCharsets.UTF_8))).isFalse();
        assertThat(u.toString()).doesNotContain("a-secret");
        u.secret()[0] = 'X';
        assertThat(u.secretEquals("a-secret".getBytes(StandardCharsets.UTF_8))).as("a copy is handed out").isTrue();
    }

    @Test
    void nodesAreSeenAndLeave() {
        ConfigStore store = new ConfigStore(List.of());
        Instant t0 = Instant.parse("2026-12-04T00:00:00Z");
        store.nodeSeen("n1", Map.of("region", "eu"), t0);
        assertThat(store.node("n1").connected()).isTrue();
        store.nodeLeft("n1", t0.plusSeconds(5));
        assertThat(store.node("n1")).satisfies(n -> {
            assertThat(n.connected()).isFalse();
            assertThat(n.lastSeen()).isEqualTo(t0.plusSeconds(5));
            assertThat(n.labels()).containsEntry("region", "eu");
        });
        store.nodeLeft("never-seen", t0);
        assertThat(store.nodes()).hasSize(1);
    }
}
