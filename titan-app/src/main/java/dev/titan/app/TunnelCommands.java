package dev.titan.app;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.titan.core.config.ConfigException;
import dev.titan.core.config.TitanConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What {@code titan server} and {@code titan client} share: a file, or a configuration made from quick flags. */
final class TunnelCommands {
    private TunnelCommands() {
    }

    /** The quick flags' configuration, run like a file: no admin or metrics port (two roles may share a machine). */
    static Map<String, Object> quickConfig(String section, Map<String, Object> body) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("logging", Map.of("level", "info"));
        doc.put("metrics", Map.of("enabled", false));
        doc.put("admin", Map.of("enabled", false));
        doc.put(section, body);
        return doc;
    }

    /** Runs {@code file} (which must have {@code section}) or the quick configuration. */
    static int run(Path file, boolean watch, String section, Map<String, Object> quick) {
        TitanConfig cfg;
        if (file != null) {
            cfg = CheckCommand.loadOrReport(file);
            if (cfg == null) {
                return Main.EXIT_CONFIG;
            }
            if (!cfg.sections().containsKey(section)) {
                CheckCommand.printProblems(List.of(section + ": " + file + " has no " + section + " section"));
                return Main.EXIT_CONFIG;
            }
            return new Runner(file, cfg, watch).runUntilStopped();
        }
        try {
            // JSON is YAML: the flags go through the same loader, checks and messages as a file
            cfg = Main.configLoader().parse("command line", new ObjectMapper().writeValueAsString(quick));
        } catch (ConfigException e) {
            CheckCommand.printProblems(e.problems());
            return Main.EXIT_CONFIG;
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return new Runner(null, cfg, false).runUntilStopped();
    }

    /** The secret from the flag, else from {@code TITAN_TUNNEL_SECRET} (which keeps it out of the process list). */
    static String secret(String flag) {
        return flag != null ? flag : System.getenv("TITAN_TUNNEL_SECRET");
    }
}
