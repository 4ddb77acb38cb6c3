package dev.titan.app;

import dev.titan.core.config.ConfigException;
import dev.titan.core.config.TitanConfig;
import dev.titan.core.engine.Engine;
import dev.titan.core.engine.Module;
import dev.titan.core.engine.Modules;
import dev.titan.core.net.Transport;
import dev.titan.core.time.Clock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * Runs one engine and the process's modules for the life of the process: starts them, reloads on
 * SIGHUP and when the configuration changes on disk, and stops gracefully on SIGINT/SIGTERM. Every
 * module is treated alike ({@link Module}); the engine runs the listeners they provide.
 */
final class Runner {
    private static final Logger log = LoggerFactory.getLogger(Runner.class);

    private final Path configPath;
    private final boolean watch;
    private TitanConfig config;
    private Engine engine;
    private Transport transport;
    private final Modules modules = Main.modules();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final ScheduledExecutorService watcher = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "titan-config-watch");
        t.setDaemon(true);
        return t;
    });
    private Map<Path, FileTime> stamps = Map.of();

    /** The last start failed on the configuration (an endpoint list that cannot be read or resolved): exit 2, not 1. */
    private boolean configProblem;

    Runner(Path configPath, TitanConfig config, boolean watch) {
        this.configPath = configPath;
        this.config = config;
        this.watch = watch;
    }

    Engine engine() {
        return engine;
    }

    /** Starts the engine; returns false (after logging why) if it could not start. */
    boolean start() {
        LoggingSetup.apply(config.logging());
        transport = Transport.create(config.transport().type(), config.transport().workerThreads());
        engine = new Engine(transport, modules.listeners(), Clock.SYSTEM);
        try {
            engine.start(config);
        } catch (ConfigException e) {
            log.error("{}", e.getMessage());
            transport.close();
            configProblem = true;
            return false;
        } catch (RuntimeException e) {
            log.error("cannot start: {}", e.getMessage());
            transport.close();
            return false;
        }
        for (Module m : modules.all()) {
            try {
                m.start(config, engine);
            } catch (RuntimeException e) {
                log.error("cannot start {}: {}", m.name(), e.getMessage());
                modules.all().forEach(Module::close);
                engine.stop(Duration.ZERO);
                transport.close();
                return false;
            }
        }
        log.info("titan running with {} ({} transport); SIGHUP reloads, SIGINT/SIGTERM stops",
                configPath == null ? "command-line settings" : configPath, transport.kind());
        stamps = stamps();
        if (watch && configPath != null) {
            watcher.scheduleWithFixedDelay(this::checkFiles, 2, 2, TimeUnit.SECONDS);
        }
        return true;
    }

    /** The module of {@code type} this process runs (for tools and tests). */
    <T extends Module> T module(Class<T> type) {
        return modules.all().stream().filter(type::isInstance).map(type::cast).findFirst().orElseThrow();
    }

    /** Starts draining every module; completes when all have drained. */
    private CompletableFuture<Void> drainModules(Duration drain) {
        return CompletableFuture.allOf(modules.all().stream().map(m -> m.drain(drain)).toArray(CompletableFuture[]::new));
    }

    int runUntilStopped() {
        if (!start()) {
            return configProblem ? Main.EXIT_CONFIG : Main.EXIT_FAILURE;
        }
        Thread hook = new Thread(this::stop, "titan-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        if (!handle("HUP", () -> watcher.execute(() -> reload("SIGHUP")))) {
            // the JVM leaves a signal its process was started ignoring (nohup does so with SIGHUP) ignored
            log.warn("SIGHUP is ignored in this process (started with nohup, or by a parent that ignores it), so it cannot"
                    + " reload Titan; {}", watch && configPath != null ? "saving a change to the configuration file reloads it"
                    : "run without --no-watch so that saving the configuration file reloads it, or start Titan without nohup");
        }
        // SIGINT and SIGTERM stop gracefully and exit 0, rather than the JVM's 130/143; a second
        // one while the graceful stop runs exits at once, as nginx and HAProxy do
        java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
        Runnable graceful = () -> {
            if (stopping.getAndSet(true)) {
                try {
                    log.warn("second stop signal: exiting now without waiting for connections to drain");
                } finally {
                    Runtime.getRuntime().halt(Main.EXIT_FAILURE); // even if logging itself fails
                }
            }
            Thread.ofPlatform().name("titan-stop").start(this::stop);
        };
        handle("INT", graceful);
        handle("TERM", graceful);
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // already shutting down
        }
        return Main.EXIT_OK;
    }

    /** Runs {@code action} on {@code signal}; false when the signal stays ignored instead (or does not exist here). */
    private static boolean handle(String signal, Runnable action) {
        try {
            return Signal.handle(new Signal(signal), s -> action.run()) != sun.misc.SignalHandler.SIG_IGN;
        } catch (IllegalArgumentException e) {
            log.debug("SIG{} not available on this platform", signal);
            return false;
        }
    }


    synchronized void reload(String why) {
        if (configPath == null) {
            return;
        }
        TitanConfig next;
        try {
            next = Main.configLoader().load(configPath);
            engine.reload(next);
        } catch (ConfigException e) {
            log.error("reload ({}) refused, the running configuration stays: {}", why, e.getMessage());
            return;
        } catch (RuntimeException e) {
            log.error("reload ({}) failed, the running configuration stays: {}", why, e.getMessage());
            return;
        }
        for (Module m : modules.all()) {
            try {
                m.reload(next);
            } catch (RuntimeException e) {
                log.error("reload ({}): {} failed: {}", why, m.name(), e.getMessage());
            }
        }
        if (!next.logging().equals(config.logging())) {
            LoggingSetup.apply(next.logging());
        }
        config = next;
        log.info("reloaded ({})", why);
    }

    private void checkFiles() {
        Map<Path, FileTime> now = stamps();
        if (!now.equals(stamps)) {
            stamps = now;
            reload("configuration file changed");
        }
    }

    private Map<Path, FileTime> stamps() {
        Map<Path, FileTime> out = new HashMap<>();
        if (configPath == null) {
            return out;
        }
        try {
            if (Files.isDirectory(configPath)) {
                try (Stream<Path> s = Files.list(configPath)) {
                    for (Path p : s.toList()) {
                        out.put(p, Files.getLastModifiedTime(p));
                    }
                }
            } else {
                out.put(configPath, Files.getLastModifiedTime(configPath));
            }
        } catch (IOException e) {
            // a file being replaced; the next check sees it
        }
        return out;
    }

    synchronized void stop() {
        if (stopped.getCount() == 0) {
            return;
        }
        watcher.shutdownNow();
        log.info("stopping (drain up to {} s)", config.drainTimeout().toSeconds());
        try {
            CompletableFuture<Void> drained = drainModules(config.drainTimeout());
            engine.stop(config.drainTimeout()); // the listeners drain meanwhile
            try {
                drained.get(config.drainTimeout().toMillis() + 1_000, TimeUnit.MILLISECONDS);
            } catch (ExecutionException | TimeoutException e) {
                log.warn("modules did not drain within the drain timeout: {}", e.toString());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            modules.all().forEach(Module::close);
        } finally {
            try {
                transport.close();
            } finally {
                stopped.countDown(); // whatever failed above, the process must still exit
            }
            log.info("stopped");
        }
    }
}
