package dev.titan.app;

import dev.titan.overlay.OverlaySections;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code titan pop}: the overlay's entrance, where users connect over SOCKS5 or an HTTP proxy and edges dial in. */
@Command(name = "pop", mixinStandardHelpOptions = true, description = {
        "Run an overlay PoP: users connect over SOCKS5, an HTTP proxy or a mixed port, and each connection goes",
        "through a tunnel to an edge, which makes the final connection.",
        "Either -c FILE (with a pop section) or the quick flags, e.g.:",
        "  titan pop --socks 1080 --http 8118 --mixed 7890 --edges 8443 --user alice:PASSWORD --edge e1:SECRET"})
final class PopCommand implements Callable<Integer> {
    @Option(names = {"-c", "--config"}, description = "Configuration file or directory with a pop section.")
    Path config;

    @Option(names = "--no-watch", description = "Do not reload when the configuration file changes.")
    boolean noWatch;

    @Option(names = "--socks", description = "SOCKS5 port (or host:port).")
    String socks;

    @Option(names = "--http", description = "HTTP proxy port (or host:port).")
    String http;

    @Option(names = "--mixed", description = "Port for both, told apart by the first byte (or host:port).")
    String mixed;

    @Option(names = "--edges", defaultValue = "8443", description = "Port (or host:port) where edges dial in (default ${DEFAULT-VALUE}).")
    String edges;

    @Option(names = "--user", description = "A user, NAME:PASSWORD (repeatable).")
    List<String> users = new ArrayList<>();

    @Option(names = "--edge", description = "An edge allowed to dial in, ID:SECRET (repeatable).")
    List<String> edgeIds = new ArrayList<>();

    @Option(names = "--allow-open", description = "Let anyone use the proxy without credentials (refused unless given).")
    boolean allowOpen;

    @Override
    public Integer call() {
        if (config != null) {
            return TunnelCommands.run(config, !noWatch, OverlaySections.POP, null);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        putPort(body, "socks", socks);
        putPort(body, "http", http);
        putPort(body, "mixed", mixed);
        body.put("users", pairs(users, "id", "password"));
        if (allowOpen) {
            body.put("allow_open", true);
        }
        Map<String, Object> edgePort = new LinkedHashMap<>();
        edgePort.put("listen_addr", address(edges));
        edgePort.put("users", pairs(edgeIds, "id", "secret"));
        body.put("edges", edgePort);
        return TunnelCommands.run(null, false, OverlaySections.POP, TunnelCommands.quickConfig(OverlaySections.POP, body));
    }

    private static void putPort(Map<String, Object> body, String key, String value) {
        if (value != null) {
            body.put(key, address(value));
        }
    }

    private static String address(String v) {
        return v.contains(":") ? v : "0.0.0.0:" + v;
    }

    /** {@code NAME:SECRET} flags as maps; a flag without a colon keeps its whole text as the name, and the loader says what is missing. */
    private static List<Map<String, Object>> pairs(List<String> flags, String nameKey, String secretKey) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (String f : flags) {
            int colon = f.indexOf(':');
            Map<String, Object> m = new LinkedHashMap<>();
            m.put(nameKey, colon < 0 ? f : f.substring(0, colon));
            if (colon >= 0) {
                m.put(secretKey, f.substring(colon + 1));
            }
            out.add(m);
        }
        return out;
    }
}
