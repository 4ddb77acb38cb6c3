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

/** {@code titan edge}: an exit of the overlay, dialling home to its PoPs. */
@Command(name = "edge", mixinStandardHelpOptions = true, description = {
        "Run an overlay edge: it holds tunnels to its PoPs and makes the final connection of each user connection",
        "they send it, as its egress policy allows (private, loopback and link-local networks are refused by default).",
        "Either -c FILE (with an edge section) or the quick flags, e.g.:",
        "  titan edge --pop wss://pop.example.com:8443 --id e1 --secret S --label country=us,city=nyc"})
final class EdgeCommand implements Callable<Integer> {
    @Option(names = {"-c", "--config"}, description = "Configuration file or directory with an edge section.")
    Path config;

    @Option(names = "--no-watch", description = "Do not reload when the configuration file changes.")
    boolean noWatch;

    @Option(names = "--pop", split = ",", description = "PoP URLs: wss://HOST:PORT (default), ws://, tls:// or tcp:// (repeatable).")
    List<String> pops = new ArrayList<>();

    @Option(names = "--id", description = "This edge's id.")
    String id;

    @Option(names = "--secret", description = "Its secret (or set TITAN_TUNNEL_SECRET).")
    String secret;

    @Option(names = "--connections", defaultValue = "1", description = "Tunnels to hold (default ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = "--label", split = ",", description = "Labels for routing, KEY=VALUE (e.g. country=us,city=nyc,asn=7922).")
    List<String> labels = new ArrayList<>();

    @Option(names = "--allow", description = "A network to allow beyond the default egress policy, e.g. 127.0.0.0/8 for a lab (repeatable).")
    List<String> allow = new ArrayList<>();

    @Override
    public Integer call() {
        if (config != null) {
            return TunnelCommands.run(config, !noWatch, OverlaySections.EDGE, null);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("servers", pops.stream().map(p -> p.contains("://") ? p : "wss://" + p).toList());
        body.put("id", id);
        body.put("secret", TunnelCommands.secret(secret));
        body.put("connections", connections);
        Map<String, String> l = new LinkedHashMap<>();
        for (String kv : labels) {
            int eq = kv.indexOf('=');
            l.put(eq < 0 ? kv : kv.substring(0, eq), eq < 0 ? "" : kv.substring(eq + 1));
        }
        body.put("labels", l);
        if (!allow.isEmpty()) {
            body.put("egress", Map.of("allow", allow));
        }
        return TunnelCommands.run(null, false, OverlaySections.EDGE, TunnelCommands.quickConfig(OverlaySections.EDGE, body));
    }
}
