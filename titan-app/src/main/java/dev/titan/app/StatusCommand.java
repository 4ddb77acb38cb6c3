package dev.titan.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.titan.core.config.ConfigLoader;
import dev.titan.core.config.HostPort;
import dev.titan.core.config.TitanConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code titan status}: prints the score table of a running instance from its admin API. */
@Command(name = "status", mixinStandardHelpOptions = true, description = {
        "Print the score table (latency, jitter, success, penalty, bonus, state) of a running Titan.",
        "The admin address and token come from -c, else --admin/--token, else the defaults",
        "(http://127.0.0.1:9098 and the token file Titan writes when admin.token is not set)."})
final class StatusCommand implements Callable<Integer> {
    @Option(names = {"-c", "--config"}, description = "Configuration of the running instance (for its admin address and token).")
    Path config;

    @Option(names = "--admin", description = "Admin API base URL (default ${DEFAULT-VALUE}).", defaultValue = "http://127.0.0.1:9098")
    String admin;

    @Option(names = "--token-file", description = "File holding the admin token.")
    Path tokenFile;

    @Option(names = "--json", description = "Print the raw JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        String base = admin;
        String token = System.getenv("TITAN_ADMIN_TOKEN");
        Path file = tokenFile;
        if (config != null) {
            TitanConfig c = CheckCommand.loadOrReport(config);
            if (c == null) {
                return Main.EXIT_CONFIG;
            }
            base = "http://" + HostPort.format(c.admin().listenAddr());
            if (c.admin().token() != null) {
                token = c.admin().token();
            } else if (file == null) {
                file = Path.of(c.admin().tokenFile());
            }
        }
        if (token == null) {
            Path f = file != null ? file : Path.of(ConfigLoader.defaultTokenFile());
            try {
                token = Files.readString(f).trim();
            } catch (IOException e) {
                System.err.println("titan status: no admin token (set TITAN_ADMIN_TOKEN, --token-file or -c; " + f + " is not readable)");
                return Main.EXIT_FAILURE;
            }
        }
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
        HttpResponse<String> res;
        try {
            res = client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/status"))
                    .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(5)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            System.err.println("titan status: cannot reach " + base + ": " + e);
            return Main.EXIT_FAILURE;
        }
        if (res.statusCode() != 200) {
            System.err.println("titan status: " + base + " answered " + res.statusCode() + ": " + res.body().trim());
            return Main.EXIT_FAILURE;
        }
        if (json) {
            System.out.print(res.body());
        } else {
            printTable(new ObjectMapper().readTree(res.body()), System.out);
        }
        return Main.EXIT_OK;
    }

    static void printTable(JsonNode root, PrintStream out) {
        for (JsonNode l : root.path("listeners")) {
            out.printf("listener %s (%s) %s -> %s, %d connections%n", l.path("name").asText(), l.path("protocol").asText(),
                    l.path("address").asText(), l.path("cluster").asText(), l.path("active_connections").asInt());
        }
        for (JsonNode c : root.path("clusters")) {
            out.printf("%ncluster %s: %d addresses, balancer %s, active set %s%n", c.path("name").asText(), c.path("addresses").asLong(),
                    c.path("balancer").asText(), c.path("active_set"));
            out.printf("%-28s %-8s %7s %7s %7s %7s %7s %6s %9s %8s %6s %6s%n", "ENDPOINT", "STATE", "SCORE", "LAT", "JIT", "SUCC",
                    "PEN", "BONUS", "LAT_MS", "JIT_MS", "CONNS", "POOL");
            for (JsonNode e : c.path("endpoints")) {
                out.printf(Locale.ROOT, "%-28s %-8s %7.2f %7.2f %7.2f %7.2f %7.2f %6.1f %9.2f %8.2f %6d %6d%n",
                        e.path("endpoint").asText(), e.path("state").asText(), e.path("score").asDouble(),
                        e.path("latency_score").asDouble(), e.path("jitter_score").asDouble(), e.path("success_score").asDouble(),
                        e.path("penalty").asDouble(), e.path("bonus").asDouble(), e.path("latency_ms").asDouble(),
                        e.path("jitter_ms").asDouble(), e.path("active_connections").asInt(), e.path("pooled_idle").asInt());
            }
        }
    }
}
