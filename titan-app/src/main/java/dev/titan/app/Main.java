package dev.titan.app;

import dev.titan.core.config.ConfigLoader;
import dev.titan.core.engine.Modules;
import dev.titan.l4.L4Module;
import dev.titan.overlay.OverlayModule;
import dev.titan.tunnel.TunnelModule;
import io.netty.util.ResourceLeakDetector;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code titan} command. */
@Command(name = "titan",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Titan: L4 forwarder over scored endpoints, a reverse tunnel (server and client), and an IP overlay (PoP and edge); the L7 gateway comes later.",
        subcommands = {RunCommand.class, CheckCommand.class, StatusCommand.class, DemoCommand.class, ServerCommand.class,
                ClientCommand.class, PopCommand.class, EdgeCommand.class, AotTrainingCommand.class, CommandLine.HelpCommand.class},
        footerHeading = "%nExit codes:%n",
        footer = {"  0  success", "  1  runtime failure (e.g. a port cannot be bound, status unreachable)",
                "  2  invalid configuration or command line",
                "%nSignals (titan run): SIGINT/SIGTERM stop gracefully (stop accepting, drain up to drain_timeout);",
                "SIGHUP reloads the configuration (an invalid one is refused and the running one stays)."})
public final class Main implements Runnable {
    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_CONFIG = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        leakDetectionOffUnlessAsked();
        System.exit(execute(args));
    }

    /**
     * Netty tracks one buffer in 128 for leaks unless told otherwise, recording a stack trace at
     * each access of a tracked buffer: about 3% of a busy tunnel's CPU (profiled: iperf3 through
     * the tunnel). Titan's tests run every component at the paranoid level and fail on any leak, so
     * a running Titan leaves it off; {@code -Dio.netty.leakDetection.level=simple} (or paranoid)
     * in {@code TITAN_JAVA_OPTS} turns it back on.
     */
    static void leakDetectionOffUnlessAsked() {
        if (System.getProperty("io.netty.leakDetection.level") == null && System.getProperty("io.netty.leakDetectionLevel") == null) {
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        }
    }

    /** The modules of a Titan process: the forwarder's listeners, the reverse tunnel and the overlay (fresh instances: they hold what they run). */
    static Modules modules() {
        return Modules.of(new L4Module(), new TunnelModule(), new OverlayModule());
    }

    /** The configuration loader with every section the app's modules own. */
    static ConfigLoader configLoader() {
        return modules().configLoader();
    }

    static int execute(String... args) {
        return new CommandLine(new Main()).execute(args);
    }

    /** The version from the jar manifest, or "dev" when run from classes. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"titan " + (v == null ? "0.1.0-SNAPSHOT" : v),
                    "JVM " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"};
        }
    }
}
