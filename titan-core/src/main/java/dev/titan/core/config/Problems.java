package dev.titan.core.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Collects configuration problems so that all of them are reported at once. */
public final class Problems {
    private final List<String[]> list = new ArrayList<>();
    private final Map<String, String> origins = new HashMap<>();

    public void add(String path, String reason) {
        list.add(new String[] {path.isEmpty() ? "<root>" : path, reason});
    }

    /** Names {@code file} in the problems of {@code path} and below (a configuration directory's file that set it). */
    public void origin(String path, String file) {
        origins.put(path, file);
    }

    public boolean isEmpty() {
        return list.isEmpty();
    }

    /** Each problem as "path: reason", after the file that set the path when the configuration came from several. */
    public List<String> list() {
        List<String> out = new ArrayList<>(list.size());
        for (String[] p : list) {
            String file = originOf(p[0]);
            out.add((file == null ? "" : file + ": ") + p[0] + ": " + p[1]);
        }
        return out;
    }

    private String originOf(String path) {
        for (String at = path; ; ) {
            String file = origins.get(at);
            if (file != null) {
                return file;
            }
            int cut = Math.max(at.lastIndexOf('.'), at.lastIndexOf('['));
            if (cut <= 0) {
                return null;
            }
            at = at.substring(0, cut);
        }
    }

    /** Throws a {@link ConfigException} if any problem was recorded. */
    public void throwIfAny() {
        if (!list.isEmpty()) {
            throw new ConfigException(list());
        }
    }
}
