package dev.titan.core.config;

import java.util.ArrayList;
import java.util.List;

/** Collects configuration problems so that all of them are reported at once. */
public final class Problems {
    private final List<String> list = new ArrayList<>();

    public void add(String path, String reason) {
        list.add((path.isEmpty() ? "<root>" : path) + ": " + reason);
    }

    public boolean isEmpty() {
        return list.isEmpty();
    }

    public List<String> list() {
        return List.copyOf(list);
    }

    /** Throws a {@link ConfigException} if any problem was recorded. */
    public void throwIfAny() {
        if (!list.isEmpty()) {
            throw new ConfigException(list);
        }
    }
}
