package dev.titan.core.store;

import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The store of a single process whose users are in its configuration file: users are replaced
 * as a whole when the configuration is (re)loaded; nodes and usage are kept in memory for the
 * life of the process.
 */
public final class ConfigStore implements Store {
    private volatile Map<String, User> users = Map.of();
    private final Map<String, Node> nodes = new ConcurrentHashMap<>();
    private final Map<String, Usage> usage = new ConcurrentHashMap<>();

    public ConfigStore(List<User> users) {
        replaceUsers(users);
    }

    /** The users of a (re)loaded configuration; the usage of users who remain is kept. */
    public void replaceUsers(List<User> next) {
        users = next.stream().collect(Collectors.toUnmodifiableMap(User::id, Function.identity()));
    }

    @Override
    public User user(String id) {
        return id == null ? null : users.get(id);
    }

    @Override
    public Collection<User> users() {
        return users.values();
    }

    @Override
    public void nodeSeen(String id, Map<String, String> labels, Instant at) {
        nodes.put(id, new Node(id, labels, at, true));
    }

    @Override
    public void nodeLeft(String id, Instant at) {
        nodes.computeIfPresent(id, (k, n) -> new Node(id, n.labels(), at, false));
    }

    @Override
    public Node node(String id) {
        return nodes.get(id);
    }

    @Override
    public Collection<Node> nodes() {
        return List.copyOf(nodes.values());
    }

    @Override
    public Map<String, Usage> usageById() {
        return Map.copyOf(usage);
    }

    @Override
    public Usage usage(String userId) {
        return usage.computeIfAbsent(userId, k -> new Usage());
    }
}
