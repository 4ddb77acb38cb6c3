package dev.titan.tunnel;

import dev.titan.core.config.SectionReader;
import dev.titan.core.config.TitanConfig;
import dev.titan.core.engine.Module;
import dev.titan.core.engine.ModuleContext;
import io.micrometer.core.instrument.Meter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reverse tunnel as a module: the {@code tunnel_server} and {@code tunnel_client} sections,
 * each a {@link TunnelServer} or {@link TunnelClient} while its section is there. On reload a
 * changed server section applies in place (the port stays; see {@link TunnelServer#update}); a
 * changed client section is replaced without losing a stream: the new client dials first, and
 * once one of its tunnels is up the old one drains (GOAWAY, then closes as its streams end, at
 * most {@code drain_timeout}). A section that appears starts; one that disappears drains.
 */
public final class TunnelModule implements Module {
    private static final Logger log = LoggerFactory.getLogger(TunnelModule.class);

    private ModuleContext context;
    private TitanConfig config;
    private TunnelServer server;
    private TunnelClient client;
    private List<Meter> serverMeters = List.of();
    private List<Meter> clientMeters = List.of();
    /** Servers and clients a reload removed or replaced, still draining: closed with the module. */
    private final List<AutoCloseable> leaving = new ArrayList<>();

    @Override
    public String name() {
        return "tunnel";
    }

    @Override
    public Map<String, SectionReader> sections() {
        return TunnelSections.readers();
    }

    @Override
    public void start(TitanConfig config, ModuleContext context) {
        this.context = context;
        this.config = config;
        TunnelServerConfig s = config.section(TunnelSections.SERVER, TunnelServerConfig.class);
        if (s != null) {
            startServer(s);
        }
        TunnelClientConfig c = config.section(TunnelSections.CLIENT, TunnelClientConfig.class);
        if (c != null) {
            startClient(c);
        }
    }

    /** The running tunnel server, or null. */
    public TunnelServer server() {
        return server;
    }

    /** The running tunnel client, or null. */
    public TunnelClient client() {
        return client;
    }

    private void startServer(TunnelServerConfig s) {
        TunnelServer fresh = new TunnelServer(s, context.transport(), context.clusterRegistry(), context.metrics());
        fresh.start(); // a port in use fails here, before anything is registered
        server = fresh;
        serverMeters = fresh.bindMetrics(context.metrics().registry());
    }

    private TunnelClient startClient(TunnelClientConfig c) {
        TunnelClient fresh = new TunnelClient(c, context.transport());
        clientMeters = fresh.bindMetrics(context.metrics().registry());
        fresh.start();
        client = fresh;
        log.info("tunnel client {} dialling {} with {} tunnel(s)", c.id(), c.servers(), c.connections());
        return fresh;
    }

    @Override
    public void reload(TitanConfig next) {
        reloadServer(config.section(TunnelSections.SERVER, TunnelServerConfig.class),
                next.section(TunnelSections.SERVER, TunnelServerConfig.class), next.drainTimeout());
        reloadClient(config.section(TunnelSections.CLIENT, TunnelClientConfig.class),
                next.section(TunnelSections.CLIENT, TunnelClientConfig.class), next.drainTimeout());
        config = next;
    }

    private void reloadServer(TunnelServerConfig old, TunnelServerConfig next, Duration drain) {
        if (String.valueOf(old).equals(String.valueOf(next)) && !secretsChanged(old, next)) {
            return;
        }
        if (server != null && next != null) {
            try {
                server.update(next);
                serverMeters = server.bindMetrics(context.metrics().registry());
                log.info("reload: tunnel server updated");
            } catch (IllegalArgumentException e) {
                log.warn("reload: {}", e.getMessage());
            }
        } else if (next != null) {
            try {
                startServer(next);
                log.info("reload: {} added; tunnel server started", TunnelSections.SERVER);
            } catch (RuntimeException e) {
                log.error("reload: {} added but the tunnel server cannot start: {}", TunnelSections.SERVER, e.getMessage());
            }
        } else if (server != null) {
            TunnelServer gone = server;
            server = null;
            serverMeters.forEach(context.metrics().registry()::remove);
            serverMeters = List.of();
            leaving.add(gone);
            gone.drain(drain);
            log.info("reload: {} removed; the tunnel server stopped accepting and its tunnels are draining", TunnelSections.SERVER);
        }
    }

    private void reloadClient(TunnelClientConfig old, TunnelClientConfig next, Duration drain) {
        boolean changed = !String.valueOf(old).equals(String.valueOf(next))
                || (old != null && next != null && !Arrays.equals(old.secret(), next.secret()));
        if (!changed) {
            return;
        }
        TunnelClient previous = client;
        if (previous != null) {
            clientMeters.forEach(context.metrics().registry()::remove);
            clientMeters = List.of();
            client = null;
            leaving.add(previous);
        }
        if (next == null) {
            previous.drain(drain);
            log.info("reload: {} removed; its tunnels are draining", TunnelSections.CLIENT);
            return;
        }
        TunnelClient fresh = startClient(next);
        if (previous == null) {
            log.info("reload: {} added", TunnelSections.CLIENT);
            return;
        }
        fresh.firstTunnel(Duration.ofSeconds(10)).thenRun(() -> {
            log.info("reload: tunnel client replaced ({} new tunnel(s) up); draining the old one", fresh.connectedTunnels());
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

    @Override
    public CompletableFuture<Void> drain(Duration timeout) {
        List<CompletableFuture<Void>> all = new ArrayList<>();
        if (client != null) {
            all.add(client.drain(timeout));
        }
        if (server != null) {
            all.add(server.drain(timeout));
        }
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
    }

    @Override
    public void close() {
        List<AutoCloseable> all = new ArrayList<>(leaving);
        if (client != null) {
            all.add(client);
        }
        if (server != null) {
            all.add(server);
        }
        for (AutoCloseable c : all) {
            try {
                c.close();
            } catch (Exception e) {
                log.debug("closing {}: {}", c, e.toString());
            }
        }
    }
}
