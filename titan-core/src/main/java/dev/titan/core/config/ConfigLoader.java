package dev.titan.core.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Loads a {@link TitanConfig} from YAML: Titan's own layout ({@code listeners}, {@code clusters},
 * ...) or seed 001's forwarder layout ({@code server}, {@code remotes}, {@code pools}), which runs
 * unchanged. {@code ${VAR}} and {@code ${VAR:-default}} are replaced from the environment. A
 * directory loads every {@code *.yaml}/{@code *.yml} in it, in name order, as one configuration.
 * Every problem is reported at once, each with its key path.
 */
public final class ConfigLoader {
    private static final Pattern ENV = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?}");
    private static final String DEFAULT_NAME = "default";

    private final Function<String, String> env;
    private final Map<String, SectionReader> sections;
    private final List<String> protocols;

    /**
     * A loader for the sections and listener protocols that modules registered: {@code sections}
     * are the top-level sections they own, by name, and how to read each; {@code protocols} the
     * listener protocols they provide (a listener's {@code protocol} must be one of them).
     * {@code env} answers {@code ${NAME}} substitutions.
     */
    public ConfigLoader(Function<String, String> env, Map<String, SectionReader> sections, List<String> protocols) {
        this.env = env;
        this.sections = Map.copyOf(sections);
        this.protocols = List.copyOf(protocols);
    }

    public ConfigLoader(Map<String, SectionReader> sections, List<String> protocols) {
        this(System::getenv, sections, protocols);
    }

    public TitanConfig load(Path path) {
        if (Files.isDirectory(path)) {
            List<Path> files;
            try (Stream<Path> s = Files.list(path)) {
                files = s.filter(p -> {
                    String n = p.getFileName().toString();
                    return Files.isRegularFile(p) && (n.endsWith(".yaml") || n.endsWith(".yml"));
                }).sorted().toList();
            } catch (IOException e) {
                throw new ConfigException(path + ": cannot list directory: " + e.getMessage());
            }
            if (files.isEmpty()) {
                throw new ConfigException(path + ": no *.yaml or *.yml files in directory");
            }
            Map<String, String> texts = new LinkedHashMap<>();
            for (Path f : files) {
                texts.put(f.toString(), read(f));
            }
            return parseAll(texts);
        }
        return parseAll(Map.of(path.toString(), read(path)));
    }

    /** Parses one YAML document given as text; {@code origin} names it in messages. */
    public TitanConfig parse(String origin, String yaml) {
        return parseAll(Map.of(origin, yaml));
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new ConfigException(p + ": is not UTF-8 text (a configuration is YAML text; is this the right file?)");
        } catch (IOException e) {
            throw new ConfigException(p + ": cannot read: " + e.getMessage());
        }
    }

    private TitanConfig parseAll(Map<String, String> texts) {
        Problems problems = new Problems();
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        yaml.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        ObjectNode merged = JsonNodeFactory.instance.objectNode();
        boolean many = texts.size() > 1;
        for (Map.Entry<String, String> e : texts.entrySet()) {
            JsonNode tree;
            try {
                tree = yaml.readTree(e.getValue());
            } catch (JsonProcessingException ex) {
                JsonLocation loc = ex.getLocation();
                String where = loc == null ? "" : ":" + loc.getLineNr() + ":" + loc.getColumnNr();
                throw new ConfigException(e.getKey() + where + ": not valid YAML: " + ex.getOriginalMessage());
            }
            if (tree == null || tree.isMissingNode() || tree.isNull()) {
                if (!many) {
                    throw new ConfigException(e.getKey() + ": the file is empty");
                }
                continue;
            }
            if (!tree.isObject()) {
                throw new ConfigException(e.getKey() + ": the top level must be a mapping");
            }
            substitute(tree, "", problems);
            ObjectNode doc = (ObjectNode) tree;
            if (isSeedLayout(doc)) {
                String stem = Path.of(e.getKey()).getFileName().toString().replaceFirst("\\.ya?ml$", "");
                doc = fromSeedLayout(doc, many ? stem : DEFAULT_NAME, problems);
            }
            merge(merged, doc, many ? e.getKey() : null, problems);
        }
        TitanConfig config = read(merged, problems, sections, protocols);
        problems.throwIfAny();
        return config;
    }

    static boolean isSeedLayout(ObjectNode doc) {
        return doc.has("server") || doc.has("remotes");
    }

    /**
     * Seed 001's layout becomes one listener and one cluster with the same name. The seed's blocks
     * are moved, not rewritten, so key paths in messages keep their seed names under
     * {@code clusters.NAME} ({@code remotes}) and {@code clusters.NAME.seed_pools} ({@code pools}).
     */
    private static ObjectNode fromSeedLayout(ObjectNode doc, String name, Problems problems) {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        JsonNode server = doc.get("server");
        ObjectNode listener = out.putArray("listeners").addObject();
        listener.put(SEED_MARK, true);
        listener.put("name", name);
        listener.put("cluster", name);
        if (server != null && server.isObject()) {
            server.fields().forEachRemaining(f -> listener.set(f.getKey(), f.getValue()));
        } else {
            problems.add("server", "is required (server.listen_addr)");
        }
        JsonNode remotes = doc.get("remotes");
        ObjectNode cluster = out.putObject("clusters").putObject(name);
        if (remotes != null && remotes.isObject()) {
            remotes.fields().forEachRemaining(f -> cluster.set(f.getKey(), f.getValue()));
        } else {
            problems.add("remotes", "is required");
        }
        if (doc.has("pools")) {
            cluster.set(SEED_POOLS, doc.get("pools"));
        } else {
            cluster.putObject(SEED_POOLS);
        }
        doc.fields().forEachRemaining(f -> {
            String k = f.getKey();
            if (!k.equals("server") && !k.equals("remotes") && !k.equals("pools")) {
                out.set(k, f.getValue());
            }
        });
        return out;
    }

    private static final String SEED_POOLS = "<seed pools>";
    private static final String SEED_MARK = "<seed server>";

    /** Merges one file's document into {@code into}; {@code origin} (null for a lone file) is named in the problems of what it set. */
    private static void merge(ObjectNode into, ObjectNode doc, String origin, Problems problems) {
        doc.fields().forEachRemaining(f -> {
            String key = f.getKey();
            JsonNode value = f.getValue();
            JsonNode existing = into.get(key);
            if (existing == null) {
                into.set(key, value.deepCopy());
                if (origin == null) {
                    return;
                }
                if (key.equals("listeners") && value.isArray()) {
                    for (int i = 0; i < value.size(); i++) {
                        problems.origin("listeners[" + i + "]", origin);
                    }
                } else if (key.equals("clusters") && value.isObject()) {
                    value.fieldNames().forEachRemaining(c -> problems.origin("clusters." + c, origin));
                } else {
                    problems.origin(key, origin);
                }
            } else if (key.equals("listeners") && existing.isArray() && value.isArray()) {
                for (int i = 0; i < value.size(); i++) {
                    problems.origin("listeners[" + (existing.size() + i) + "]", origin);
                }
                ((ArrayNode) existing).addAll((ArrayNode) value);
            } else if (key.equals("clusters") && existing.isObject() && value.isObject()) {
                value.fields().forEachRemaining(c -> {
                    if (existing.has(c.getKey())) {
                        problems.add("clusters." + c.getKey(), "defined again in " + origin);
                    } else {
                        ((ObjectNode) existing).set(c.getKey(), c.getValue());
                        problems.origin("clusters." + c.getKey(), origin);
                    }
                });
            } else {
                problems.add(key, "defined again in " + origin + " (only one file of a directory may set it)");
            }
        });
    }

    private void substitute(JsonNode node, String path, Problems problems) {
        if (node.isObject()) {
            ObjectNode obj = (ObjectNode) node;
            List<String> keys = new ArrayList<>();
            obj.fieldNames().forEachRemaining(keys::add);
            for (String k : keys) {
                JsonNode v = obj.get(k);
                String p = path.isEmpty() ? k : path + "." + k;
                if (v.isTextual()) {
                    obj.set(k, expand(v.asText(), p, problems));
                } else {
                    substitute(v, p, problems);
                }
            }
        } else if (node.isArray()) {
            ArrayNode arr = (ArrayNode) node;
            for (int i = 0; i < arr.size(); i++) {
                JsonNode v = arr.get(i);
                String p = path + "[" + i + "]";
                if (v.isTextual()) {
                    arr.set(i, expand(v.asText(), p, problems));
                } else {
                    substitute(v, p, problems);
                }
            }
        }
    }

    private TextNode expand(String text, String path, Problems problems) {
        if (text.indexOf("${") < 0) {
            return TextNode.valueOf(text);
        }
        Matcher m = ENV.matcher(text);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            String value = env.apply(m.group(1));
            if (value == null) {
                value = m.group(2);
            }
            if (value == null) {
                problems.add(path, "environment variable " + m.group(1) + " is not set (write ${" + m.group(1)
                        + ":-default} to give a default)");
                value = "";
            }
            m.appendReplacement(sb, Matcher.quoteReplacement(value));
        }
        m.appendTail(sb);
        return TextNode.valueOf(sb.toString());
    }

    private static TitanConfig read(ObjectNode tree, Problems problems, Map<String, SectionReader> readers, List<String> protocols) {
        ConfigNode root = ConfigNode.root(tree, problems);
        ConfigNode lg = root.child("logging");
        TitanConfig.Logging logging = new TitanConfig.Logging(
                lg.choice("level", "info", TitanConfig.Logging.LEVELS),
                lg.stringMap("levels"),
                lg.choice("format", "text", List.of("text", "json")),
                lg.string("output", "stdout"));
        logging.levels().forEach((pkg, lvl) -> {
            if (!TitanConfig.Logging.LEVELS.contains(lvl.toLowerCase())) {
                problems.add(lg.pathOf("levels") + "." + pkg, "must be one of " + String.join(", ", TitanConfig.Logging.LEVELS)
                        + ", got '" + lvl + "'");
            }
        });
        lg.finish();

        ConfigNode mt = root.child("metrics");
        TitanConfig.Metrics metrics = new TitanConfig.Metrics(
                mt.bool("enabled", true),
                mt.parsed("listen_addr", new InetSocketAddress("127.0.0.1", 9099), HostPort::parseBindAddress),
                mt.string("path", "/metrics"),
                mt.integer("endpoint_label_limit", 20, 0, 10_000));
        if (!metrics.path().startsWith("/")) {
            mt.problem("path", "must start with /, got '" + metrics.path() + "'");
        }
        mt.finish();

        ConfigNode ad = root.child("admin");
        TitanConfig.Admin admin = new TitanConfig.Admin(
                ad.bool("enabled", true),
                ad.parsed("listen_addr", new InetSocketAddress("127.0.0.1", 9098), HostPort::parseBindAddress),
                emptyToNull(ad.string("token", null)),
                ad.string("token_file", defaultTokenFile()));
        if (admin.token() != null && admin.token().length() < 16) {
            ad.problem("token", "must be at least 16 characters (value not shown)");
        }
        ad.finish();

        ConfigNode tr = root.child("transport");
        TitanConfig.Transport transport = new TitanConfig.Transport(
                tr.choice("type", "auto", TitanConfig.Transport.TYPES),
                tr.integer("worker_threads", 0, 0, 1024));
        tr.finish();

        Duration drain = root.duration("drain_timeout", Duration.ofSeconds(30), Duration.ZERO);

        Map<String, ClusterConfig> clusters = new LinkedHashMap<>();
        root.map("clusters").forEach((name, node) -> {
            if (node.has(SEED_POOLS)) {
                ConfigNode remotes = node.relabel("remotes");
                clusters.put(name, ClusterConfig.read(name, remotes, remotes.seedChild(SEED_POOLS, "pools")));
            } else {
                clusters.put(name, ClusterConfig.read(name, node));
            }
        });

        List<ListenerConfig> listeners = new ArrayList<>();
        List<ConfigNode> listenerNodes = root.list("listeners");
        for (int i = 0; i < listenerNodes.size(); i++) {
            ConfigNode ln = listenerNodes.get(i);
            if (ln.has(SEED_MARK)) {
                ln = ln.relabel("server");
                ln.markRead(SEED_MARK);
            }
            ListenerConfig l = ListenerConfig.read(ln, "listener-" + i, protocols);
            String defined = clusters.isEmpty() ? "none" : String.join(", ", clusters.keySet());
            if (l.cluster() != null && !clusters.containsKey(l.cluster())) {
                ln.problem("cluster", "no cluster named '" + l.cluster() + "' (defined: " + defined + ")");
            }
            for (int r = 0; r < l.routes().size(); r++) {
                String c = l.routes().get(r).cluster();
                if (c != null && !clusters.containsKey(c)) {
                    ln.problem("routes[" + r + "].cluster", "no cluster named '" + c + "' (defined: " + defined + ")");
                }
            }
            if (listeners.stream().anyMatch(o -> o.name().equals(l.name()))) {
                ln.problem("name", "duplicate listener name '" + l.name() + "'");
            }
            listeners.add(l);
        }
        Map<String, Object> sections = new LinkedHashMap<>();
        readers.forEach((name, reader) -> {
            if (root.has(name)) {
                Object value = reader.read(root.child(name));
                if (value != null) {
                    sections.put(name, value);
                }
            }
        });
        if (listeners.isEmpty() && readers.keySet().stream().noneMatch(root::has)
                && !problems.list().stream().anyMatch(p -> p.startsWith("server"))) {
            root.problem("listeners", "at least one listener is required"
                    + (readers.isEmpty() ? "" : " (or one of: " + String.join(", ", readers.keySet()) + ")"));
        }
        root.finish();
        return new TitanConfig(logging, metrics, admin, transport, List.copyOf(listeners), Map.copyOf(clusters), drain,
                Collections.unmodifiableMap(sections));
    }

    private static String emptyToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    /** Where a generated admin token is written when {@code admin.token_file} is not set. */
    public static String defaultTokenFile() {
        String runtime = System.getenv("XDG_RUNTIME_DIR");
        String base = runtime != null && !runtime.isBlank() ? runtime + "/titan" : System.getProperty("user.home") + "/.titan";
        return base + "/admin.token";
    }
}
