package dev.titan.app;

import dev.titan.core.config.ClusterConfig;
import dev.titan.core.config.ConfigException;
import dev.titan.core.config.Section;
import dev.titan.core.config.TitanConfig;
import dev.titan.core.endpoint.AddressList;
import dev.titan.core.endpoint.AddressSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code titan check}: validates a configuration and its endpoint lists, printing every problem. */
@Command(name = "check", mixinStandardHelpOptions = true, description = "Validate a configuration file or directory and print every problem.")
final class CheckCommand implements Callable<Integer> {
    @Option(names = {"-c", "--config"}, required = true, description = "Configuration file or directory.")
    Path config;

    @Override
    public Integer call() {
        TitanConfig cfg = loadOrReport(config);
        if (cfg == null) {
            return Main.EXIT_CONFIG;
        }
        List<String> problems = new ArrayList<>();
        long addresses = 0;
        for (ClusterConfig cc : cfg.clusters().values()) {
            try {
                AddressList l = new AddressSource(cc.provider(), cc.defaultRemotePort()).load();
                addresses += l.size();
            } catch (ConfigException e) {
                e.problems().forEach(p -> problems.add("clusters." + cc.name() + ": " + p));
            }
        }
        if (!problems.isEmpty()) {
            printProblems(problems);
            return Main.EXIT_CONFIG;
        }
        System.out.printf("%s: OK (%d listeners, %d clusters, %d endpoint addresses)%n", config, cfg.listeners().size(),
                cfg.clusters().size(), addresses);
        cfg.sections().forEach((name, value) -> {
            if (value instanceof Section s) {
                System.out.printf("  %s: %s%n", name, s.summary());
            }
        });
        return Main.EXIT_OK;
    }

    /** Loads a configuration, or prints its problems and returns null. */
    static TitanConfig loadOrReport(Path path) {
        try {
            return Main.configLoader().load(path);
        } catch (ConfigException e) {
            printProblems(e.problems());
            return null;
        }
    }

    static void printProblems(List<String> problems) {
        System.err.println("invalid configuration (" + problems.size() + (problems.size() == 1 ? " problem):" : " problems):"));
        problems.forEach(p -> System.err.println("  - " + p));
    }
}
