package dev.titan.app;

import dev.titan.core.config.TitanConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code titan run}: runs a configuration until SIGINT/SIGTERM; SIGHUP or a file change reloads it. */
@Command(name = "run", mixinStandardHelpOptions = true, description = {
        "Run Titan with a configuration file, or a directory whose *.yaml files form one configuration.",
        "A seed-001 forwarder config (server/remotes/pools at the top level) runs unchanged."})
final class RunCommand implements Callable<Integer> {
    @Option(names = {"-c", "--config"}, required = true, description = "Configuration file or directory.")
    Path config;

    @Option(names = "--no-watch", description = "Do not reload when the configuration file changes (SIGHUP still reloads).")
    boolean noWatch;

    @Override
    public Integer call() {
        TitanConfig cfg = CheckCommand.loadOrReport(config);
        if (cfg == null) {
            return Main.EXIT_CONFIG;
        }
        return new Runner(config, cfg, !noWatch).runUntilStopped();
    }
}
