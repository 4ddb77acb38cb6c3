package dev.titan.app;

import dev.titan.tunnel.TunnelSections;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code titan server}: the public side of the reverse tunnel. */
@Command(name = "server", mixinStandardHelpOptions = true, description = {
        "Run a tunnel server: clients behind NAT dial in and their services are exposed here.",
        "Either -c FILE (with a tunnel_server section) or the quick flags, e.g.:",
        "  titan server --addr 12080 --id id1 --secret S",
        "HTTP requests for <id>.<domain> (or, without --domain, a Host whose first label is the id) on the same",
        "port go to that client; tcp services are exposed on ports within --ports."})
final class ServerCommand implements Callable<Integer> {
    @Option(names = {"-c", "--config"}, description = "Configuration file or directory with a tunnel_server section.")
    Path config;

    @Option(names = "--no-watch", description = "Do not reload when the configuration file changes.")
    boolean noWatch;

    @Option(names = "--addr", defaultValue = "12080", description = "Port (or host:port) for tunnels and HTTP (default ${DEFAULT-VALUE}).")
    String addr;

    @Option(names = "--id", description = "The client id allowed to connect.")
    String id;

    @Option(names = "--secret", description = "Its secret (or set TITAN_TUNNEL_SECRET).")
    String secret;

    @Option(names = "--domain", description = "HTTP by Host: <id>.<domain> reaches client <id>.")
    String domain;

    @Option(names = "--ports", split = ",", description = "Ports the client may expose tcp services on, e.g. 20000-20100.")
    List<String> ports = new ArrayList<>();

    @Override
    public Integer call() {
        if (config != null) {
            return TunnelCommands.run(config, !noWatch, TunnelSections.SERVER, null);
        }
        Map<String, Object> user = new LinkedHashMap<>();
        user.put("id", id);
        user.put("secret", TunnelCommands.secret(secret));
        user.put("ports", ports);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("listen_addr", addr.contains(":") ? addr : "0.0.0.0:" + addr);
        if (domain != null) {
            body.put("domain", domain);
        }
        body.put("users", List.of(user));
        return TunnelCommands.run(null, false, TunnelSections.SERVER, TunnelCommands.quickConfig(TunnelSections.SERVER, body));
    }
}
