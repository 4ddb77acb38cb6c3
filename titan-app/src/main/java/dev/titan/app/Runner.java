package dev.titan.app;

import dev.titan.core.config.ConfigException;
import dev.titan.core.config.TitanConfig;
import dev.titan.core.engine.Engine;
import dev.titan.core.net.Transport;
import dev.titan.core.time.Clock;
import dev.titan.l4.L4Listeners;
import dev.titan.tunnel.TunnelClient;
import dev.titan.tunnel.TunnelClientConfig;
import dev.titan.tunnel.TunnelSections;
import dev.titan.tunnel.TunnelServer;
import dev.titan.tunnel.TunnelServerConfig;
import io.micrometer.core.instrument.Meter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
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
 * Runs one engine for the life of the process: starts it, reloads on SIGHUP and when the
 * configuration changes on disk, and stops gracefully on SIGINT/SIGTERM.
 */
final class Runner {
    private static final Logger log = LoggerFactory.getLogger(Runner.class);

    private final Path configPath;
    private final boolean watch;
    private TitanConfig config;
    private Engine engine;
    private Transport transport;
    private TunnelServer tunnelServer;
    private TunnelClient tunnelClient;
    private List<Meter> clientMeters = List.of();
    private List<Meter> serverMeters = List.of();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final ScheduledExecutorService watcher = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "titan-config-watch");
        t.setDaemon(true);
        return t;
    });
    private Map<Path, FileTime> stamps = Map.of();

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
        engine = new Engine(transport, L4Listeners.factories(), Clock.SYSTEM);
        try {
            engine.start(config);
        } catch (ConfigException e) {
            log.error("{}", e.getMessage());
            transport.close();
            return false;
        } catch (RuntimeException e) {
            log.error("cannot start: {}", e.getMessage());
            transport.close();
            return false;
        }
        try {
            startTunnels();
        } catch (RuntimeException e) {
            log.error("cannot start: {}", e.getMessage());
            engine.stop(Duration.ZERO);
            transport.close();
            return false;
        }
        log.info("titan running with {} ({} transport); SIGHUP reloads, SIGINT/SIGTERM stops",
                configPath == null ? "command-line settings" : configPath, transport.kind());
        stamps = stamps();
        if (watch && configPath != null) {
            watcher.scheduleWithFixedDelay(this::checkFiles, 2, 2, TimeUnit.SECONDS);
        }
        return true;
    }

    /** The tunnel server and client of the configuration's tunnel sections, if any. */
    private void startTunnels() {
        TunnelServerConfig server = config.section(TunnelSections.SERVER, TunnelServerConfig.class);
        if (server != null) {
            startTunnelServer(server);
        }
        TunnelClientConfig client = config.section(TunnelSections.CLIENT, TunnelClientConfig.class);
        if (client != null) {
            startTunnelClient(client);
        }
    }

    private void startTunnelServer(TunnelServerConfig server) {
        TunnelServer s = new TunnelServer(server, transport, engine);
        s.start(); // a port in use fails here, before anything is registered
        tunnelServer = s;
        serverMeters = s.bindMetrics(engine.metrics().registry());
    }

    private TunnelClient startTunnelClient(TunnelClientConfig client) {
        TunnelClient c = new TunnelClient(client, transport);
        clientMeters = c.bindMetrics(engine.metrics().registry());
        c.start();
        tunnelClient = c;
        log.info("tunnel client {} dialling {} with {} tunnel(s)", client.id(), client.servers(), client.connections());
        return c;
    }

    /**
     * A changed tunnel_server applies in place (the port stays; see TunnelServer.update). A changed
     * tunnel_client is replaced without losing a stream: the new client dials first, and once one of
     * its tunnels is up the old client drains (GOAWAY, then closes as its streams end, at most
     * drain_timeout). A section that appears starts; one that disappears drains the same way.
     */
    private void reloadTunnels(TitanConfig next, String why) {
        TunnelServerConfig oldServer = config.section(TunnelSections.SERVER, TunnelServerConfig.class);
        TunnelServerConfig newServer = next.section(TunnelSections.SERVER, TunnelServerConfig.class);
        if (!String.valueOf(oldServer).equals(String.valueOf(newServer)) || secretsChanged(oldServer, newServer)) {
            if (tunnelServer != null && newServer != null) {
                try {
                    tunnelServer.update(newServer);
                    serverMeters = tunnelServer.bindMetrics(engine.metrics().registry());
                    log.info("reload ({}): tunnel server updated", why);
                } catch (IllegalArgumentException e) {
                    log.warn("reload ({}): {}", why, e.getMessage());
                }
            } else if (newServer != null) {
                try {
                    startTunnelServer(newServer);
                    log.info("reload ({}): {} added; tunnel server started", why, TunnelSections.SERVER);
                } catch (RuntimeException e) {
                    log.error("reload ({}): {} added but the tunnel server cannot start: {}", why, TunnelSections.SERVER, e.getMessage());
                }
            } else if (tunnelServer != null) {
                TunnelServer gone = tunnelServer;
                tunnelServer = null;
                serverMeters.forEach(engine.metrics().registry()::remove);
                serverMeters = List.of();
                gone.drain(next.drainTimeout());
                log.info("reload ({}): {} removed; the tunnel server stopped accepting and its tunnels are draining", why,
                        TunnelSections.SERVER);
            }
        }
        TunnelClientConfig oldClient = config.section(TunnelSections.CLIENT, TunnelClientConfig.class);
        TunnelClientConfig newClient = next.section(TunnelSections.CLIENT, TunnelClientConfig.class);
        boolean clientChanged = !String.valueOf(oldClient).equals(String.valueOf(newClient))
                || (oldClient != null && newClient != null && !Arrays.equals(oldClient.secret(), newClient.secret()));
        if (!clientChanged) {
            return;
        }
        TunnelClient previous = tunnelClient;
        if (previous != null) {
            clientMeters.forEach(engine.metrics().registry()::remove);
            clientMeters = List.of();
            tunnelClient = null;
        }
        if (newClient == null) {
            previous.drain(next.drainTimeout());
            log.info("reload ({}): {} removed; its tunnels are draining", why, TunnelSections.CLIENT);
            return;
        }
        TunnelClient fresh = startTunnelClient(newClient);
        if (previous == null) {
            log.info("reload ({}): {} added", why, TunnelSections.CLIENT);
            return;
        }
        Duration drain = next.drainTimeout();
        Thread.ofPlatform().daemon().name("titan-tunnel-handover").start(() -> {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (fresh.connectedTunnels() == 0 && System.nanoTime() < end) {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
            log.info("reload ({}): tunnel client replaced ({} new tunnel(s) up); draining the old one", why, fresh.connectedTunnels());
            previous.drain(drain);
        });
    }

    private static boolean secretsChanged(TunnelServerConfig a, TunnelServerConfig b) {
        if (a == null || b == null) {
            return false;
        }
        Map<String, byte[]> old = new HashMap<>();
        a.users().forEach(u -> old.put(u.id(), u.secret()));
        return b.users().stream().anyMatch(u -> old.containsKey(u.id()) && !Arrays.equals(old.get(u.id()), u.secret()));
    }

    /** Starts draining the tunnels (GOAWAY; each closes when its streams end, at most {@code drain}); completes when all have closed. */
    private CompletableFuture<Void> drainTunnels(Duration drain) {
        List<CompletableFuture<Void>> all = new ArrayList<>();
        if (tunnelClient != null) {
            all.add(tunnelClient.drain(drain));
        }
        if (tunnelServer != null) {
            all.add(tunnelServer.drain(drain));
        }
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
    }

    int runUntilStopped() {
        if (!start()) {
            return Main.EXIT_FAILURE;
        }
        Thread hook = new Thread(this::stop, "titan-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        handle("HUP", () -> watcher.execute(() -> reload("SIGHUP")));
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

    private static void handle(String signal, Runnable action) {
        try {
            Signal.handle(new Signal(signal), s -> action.run());
        } catch (IllegalArgumentException e) {
            log.debug("SIG{} not available on this platform", signal);
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
        reloadTunnels(next, why);
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
            CompletableFuture<Void> tunnels = drainTunnels(config.drainTimeout());
            engine.stop(config.drainTimeout()); // the listeners drain meanwhile
            try {
                tunnels.get(config.drainTimeout().toMillis() + 1_000, TimeUnit.MILLISECONDS);
            } catch (ExecutionException | TimeoutException e) {
                log.warn("tunnels did not close within the drain timeout: {}", e.toString());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
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
