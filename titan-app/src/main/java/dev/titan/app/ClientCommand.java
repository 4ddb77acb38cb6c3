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

/** {@code titan client}: the private side of the reverse tunnel. */
@Command(name = "client", mixinStandardHelpOptions = true, description = {
        "Run a tunnel client: dial a tunnel server and expose a local service through it.",
        "Either -c FILE (with a tunnel_client section) or the quick flags, e.g.:",
        "  titan client --local http://127.0.0.1:80 --remote tcp://HOST:12080 --id id1 --secret S --connections 3",
        "  titan client --local tcp://127.0.0.1:22 --remote-port 20022 --remote tcp://HOST:12080 --id id1 --secret S"})
final class ClientCommand implements Callable<Integer> {
    @Option(names = {"-c", "--config"}, description = "Configuration file or directory with a tunnel_client section.")
    Path config;

    @Option(names = "--no-watch", description = "Do not reload when the configuration file changes.")
    boolean noWatch;

    @Option(names = "--local", description = "The local service: http://host[:port] (exposed by Host) or tcp://host:port.")
    String local;

    @Option(names = "--remote", split = ",", description = "Tunnel server(s): tcp://host:port, tls://host[:port], ws://host[:port][/path], wss://...; "
            + "the same host given several ways is one server, reached by the first way that works.")
    List<String> remote = new ArrayList<>();

    @Option(names = "--remote-port", description = "For a tcp service: the server port to expose it on.")
    Integer remotePort;

    @Option(names = "--host", split = ",", description = "For an http service: custom host names it answers to (allowed for the id).")
    List<String> hosts = new ArrayList<>();

    @Option(names = "--id", description = "This client's id.")
    String id;

    @Option(names = "--secret", description = "Its secret (or set TITAN_TUNNEL_SECRET).")
    String secret;

    @Option(names = "--connections", defaultValue = "1", description = "Tunnels to hold open (default ${DEFAULT-VALUE}).")
    int connections;

    @Override
    public Integer call() {
        if (config != null) {
            return TunnelCommands.run(config, !noWatch, TunnelSections.CLIENT, null);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("servers", remote);
        body.put("id", id);
        body.put("secret", TunnelCommands.secret(secret));
        body.put("connections", connections);
        List<Map<String, Object>> services = new ArrayList<>();
        if (local != null) {
            Map<String, Object> svc = new LinkedHashMap<>();
            svc.put("local", local);
            if (remotePort != null) {
                svc.put("remote_port", remotePort);
            }
            if (!hosts.isEmpty()) {
                svc.put("hosts", hosts);
            }
            services.add(svc);
        }
        body.put("services", services);
        return TunnelCommands.run(null, false, TunnelSections.CLIENT, TunnelCommands.quickConfig(TunnelSections.CLIENT, body));
    }
}
