package dev.titan.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A read cursor over one YAML mapping that knows its key path. Every accessor validates type and
 * range and records a problem (never throws) so that a whole file is checked in one pass;
 * {@link #finish()} reports the keys nobody asked for as unknown.
 *
 * <pre>{@code
 * double alpha = node.decimal("ewma_alpha", 0.2, Range.openClosed(0, 1));
 * }</pre>
 */
public final class ConfigNode {
    private final JsonNode node;
    private final String path;
    private final Problems problems;
    private final Set<String> read = new LinkedHashSet<>();

    private ConfigNode(JsonNode node, String path, Problems problems) {
        this.node = node == null ? MissingNode.getInstance() : node;
        this.path = path;
        this.problems = problems;
        if (!this.node.isMissingNode() && !this.node.isNull() && !this.node.isObject()) {
            problems.add(path, "must be a mapping, got " + describe(this.node));
        }
    }

    public static ConfigNode root(JsonNode node, Problems problems) {
        return new ConfigNode(node, "", problems);
    }

    public String path() {
        return path;
    }

    public Problems problems() {
        return problems;
    }

    public boolean isPresent() {
        return node.isObject();
    }

    public boolean has(String key) {
        return node.isObject() && node.has(key) && !node.get(key).isNull();
    }

    /** Whether {@code key} holds a mapping (for keys that take either a value or a mapping). */
    public boolean isMapping(String key) {
        JsonNode v = node.get(key);
        return v != null && v.isObject();
    }

    public String pathOf(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /** Records a problem against {@code key} of this mapping. */
    public void problem(String key, String reason) {
        problems.add(key == null ? path : pathOf(key), reason);
    }

    private JsonNode get(String key) {
        read.add(key);
        JsonNode v = node.isObject() ? node.get(key) : null;
        return v == null || v.isNull() ? null : v;
    }

    /** The same mapping reported under another path (used to keep seed 001's key names in messages). */
    public ConfigNode relabel(String newPath) {
        return new ConfigNode(node, newPath, problems);
    }

    /** A child mapping reported under {@code displayPath} instead of its own key. */
    ConfigNode seedChild(String key, String displayPath) {
        return new ConfigNode(get(key), displayPath, problems);
    }

    /** Marks a key as known without reading it. */
    void markRead(String key) {
        read.add(key);
    }

    public ConfigNode child(String key) {
        return new ConfigNode(get(key), pathOf(key), problems);
    }

    public String string(String key, String def) {
        JsonNode v = get(key);
        if (v == null) {
            return def;
        }
        if (!v.isValueNode()) {
            problem(key, "must be a text value, got " + describe(v));
            return def;
        }
        return v.asText();
    }

    /** A text value that must be present and non-blank. */
    public String required(String key) {
        String s = string(key, null);
        if (s == null || s.isBlank()) {
            if (s == null) {
                problem(key, "is required");
            } else {
                problem(key, "must not be empty");
            }
            return null;
        }
        return s;
    }

    public boolean bool(String key, boolean def) {
        JsonNode v = get(key);
        if (v == null) {
            return def;
        }
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        if (v.isTextual()) {
            String t = v.asText().trim().toLowerCase(Locale.ROOT);
            if (t.equals("true") || t.equals("yes") || t.equals("on")) {
                return true;
            }
            if (t.equals("false") || t.equals("no") || t.equals("off")) {
                return false;
            }
        }
        problem(key, "must be true or false, got " + describe(v));
        return def;
    }

    public long integer(String key, long def, long min, long max) {
        JsonNode v = get(key);
        if (v == null) {
            return def;
        }
        long value;
        if (v.isIntegralNumber() && v.canConvertToLong()) {
            value = v.longValue();
        } else if (v.isTextual() && v.asText().trim().matches("-?\\d{1,18}")) {
            value = Long.parseLong(v.asText().trim());
        } else {
            problem(key, "must be a whole number, got " + describe(v));
            return def;
        }
        if (value < min || value > max) {
            problem(key, "must be in [" + min + ", " + max + "], got " + value);
            return def;
        }
        return value;
    }

    public int integer(String key, int def, int min, int max) {
        return (int) integer(key, (long) def, min, max);
    }

    public double decimal(String key, double def, Range range) {
        JsonNode v = get(key);
        if (v == null) {
            return def;
        }
        double value;
        if (v.isNumber()) {
            value = v.doubleValue();
        } else if (v.isTextual()) {
            try {
                value = Double.parseDouble(v.asText().trim());
            } catch (NumberFormatException e) {
                problem(key, "must be a number, got " + describe(v));
                return def;
            }
        } else {
            problem(key, "must be a number, got " + describe(v));
            return def;
        }
        if (Double.isNaN(value) || !range.contains(value)) {
            problem(key, "must be in " + range + ", got " + trim(value));
            return def;
        }
        return value;
    }

    public Duration duration(String key, Duration def, Duration min) {
        JsonNode v = get(key);
        if (v == null) {
            return def;
        }
        Duration d;
        if (v.isIntegralNumber() && v.asLong() == 0) {
            d = Duration.ZERO;
        } else if (v.isTextual()) {
            try {
                d = Durations.parse(v.asText());
            } catch (IllegalArgumentException e) {
                problem(key, e.getMessage());
                return def;
            }
        } else {
            problem(key, "must be a duration such as 500ms, 15s or 1m, got " + describe(v));
            return def;
        }
        if (d.compareTo(min) < 0) {
            problem(key, "must be at least " + Durations.format(min) + ", got " + v.asText());
            return def;
        }
        return d;
    }

    /** One of the given lower-case names. */
    public String choice(String key, String def, List<String> allowed) {
        String s = string(key, null);
        if (s == null) {
            return def;
        }
        String norm = s.trim().toLowerCase(Locale.ROOT);
        if (!allowed.contains(norm)) {
            problem(key, "must be one of " + String.join(", ", allowed) + ", got '" + s + "'");
            return def;
        }
        return norm;
    }

    /** A list of text values. */
    public List<String> strings(String key) {
        JsonNode v = get(key);
        List<String> out = new ArrayList<>();
        if (v == null) {
            return out;
        }
        if (!v.isArray()) {
            problem(key, "must be a list, got " + describe(v));
            return out;
        }
        for (int i = 0; i < v.size(); i++) {
            JsonNode e = v.get(i);
            if (e.isValueNode() && !e.isNull()) {
                out.add(e.asText());
            } else {
                problems.add(pathOf(key) + "[" + i + "]", "must be a text value, got " + describe(e));
            }
        }
        return out;
    }

    /** A list of mappings, each a node of its own with path {@code key[i]}. */
    public List<ConfigNode> list(String key) {
        JsonNode v = get(key);
        List<ConfigNode> out = new ArrayList<>();
        if (v == null) {
            return out;
        }
        if (!v.isArray()) {
            problem(key, "must be a list, got " + describe(v));
            return out;
        }
        for (int i = 0; i < v.size(); i++) {
            out.add(new ConfigNode(v.get(i), pathOf(key) + "[" + i + "]", problems));
        }
        return out;
    }

    /** A mapping of names to mappings, each a node with path {@code key.name}. */
    public Map<String, ConfigNode> map(String key) {
        JsonNode v = get(key);
        Map<String, ConfigNode> out = new LinkedHashMap<>();
        if (v == null) {
            return out;
        }
        if (!v.isObject()) {
            problem(key, "must be a mapping, got " + describe(v));
            return out;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            out.put(e.getKey(), new ConfigNode(e.getValue(), pathOf(key) + "." + e.getKey(), problems));
        }
        return out;
    }

    /** A mapping of names to text values. */
    public Map<String, String> stringMap(String key) {
        JsonNode v = get(key);
        Map<String, String> out = new LinkedHashMap<>();
        if (v == null) {
            return out;
        }
        if (!v.isObject()) {
            problem(key, "must be a mapping, got " + describe(v));
            return out;
        }
        v.fields().forEachRemaining(e -> {
            if (e.getValue().isValueNode() && !e.getValue().isNull()) {
                out.put(e.getKey(), e.getValue().asText());
            } else {
                problems.add(pathOf(key) + "." + e.getKey(), "must be a text value, got " + describe(e.getValue()));
            }
        });
        return out;
    }

    /** Parses a value with {@code parser}; its IllegalArgumentException becomes a problem. */
    public <T> T parsed(String key, T def, Function<String, T> parser) {
        String s = string(key, null);
        if (s == null) {
            return def;
        }
        try {
            return parser.apply(s);
        } catch (IllegalArgumentException e) {
            problem(key, e.getMessage());
            return def;
        }
    }

    /** Reports every key of this mapping that no accessor asked for. */
    public void finish() {
        if (!node.isObject()) {
            return;
        }
        node.fieldNames().forEachRemaining(k -> {
            if (!read.contains(k)) {
                problems.add(pathOf(k), "unknown key");
            }
        });
    }

    static String describe(JsonNode v) {
        if (v == null || v.isNull()) {
            return "nothing";
        }
        if (v.isObject()) {
            return "a mapping";
        }
        if (v.isArray()) {
            return "a list";
        }
        if (v.isTextual()) {
            return "'" + v.asText() + "'";
        }
        return v.asText();
    }

    private static String trim(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }

    /** A numeric interval with open or closed ends, printed in the usual notation. */
    public record Range(double min, boolean minClosed, double max, boolean maxClosed) {
        public static Range closed(double min, double max) {
            return new Range(min, true, max, true);
        }

        public static Range openClosed(double min, double max) {
            return new Range(min, false, max, true);
        }

        public static Range atLeast(double min) {
            return new Range(min, true, Double.POSITIVE_INFINITY, false);
        }

        public static Range positive() {
            return new Range(0, false, Double.POSITIVE_INFINITY, false);
        }

        public boolean contains(double v) {
            boolean lo = minClosed ? v >= min : v > min;
            boolean hi = maxClosed ? v <= max : v < max;
            return lo && hi;
        }

        @Override
        public String toString() {
            return (minClosed ? "[" : "(") + trim(min) + "," + (Double.isInfinite(max) ? "∞" : trim(max)) + (maxClosed ? "]" : ")");
        }
    }
}
