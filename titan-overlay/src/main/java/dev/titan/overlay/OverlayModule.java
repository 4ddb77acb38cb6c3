package dev.titan.overlay;

import dev.titan.core.config.SectionReader;
import dev.titan.core.config.TitanConfig;
import dev.titan.core.engine.Module;
import dev.titan.core.engine.ModuleContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The IP overlay as a module: the {@code pop} and {@code edge} sections, each a {@link Pop} or an
 * {@link Edge} while its section is there. On reload a PoP applies users, source rules and edge
 * credentials in place (its ports need a restart); a changed edge is replaced without losing a
 * stream: the new one dials first, and once one of its tunnels is up the old one drains.
 */
public final class OverlayModule implements Module {
    private static final Logger log = LoggerFactory.getLogger(OverlayModule.class);

    private ModuleContext context;
    private TitanConfig config;
    private Pop pop;
    private Edge edge;
    private final List<AutoCloseable> leaving = new ArrayList<>();

    @Override
    public String name() {
        return "overlay";
    }

    @Override
    public Map<String, SectionReader> sections() {
        return OverlaySections.readers();
    }

    @Override
    public void start(TitanConfig config, ModuleContext context) {
        this.context = context;
        this.config = config;
        Pop.Config p = config.section(OverlaySections.POP, Pop.Config.class);
        if (p != null) {
            startPop(p);
        }
        EdgeConfig e = config.section(OverlaySections.EDGE, EdgeConfig.class);
        if (e != null) {
            edge = startEdge(e);
        }
    }

    /** The running PoP, or null. */
    public Pop pop() {
        return pop;
    }

    /** The running edge, or null. */
    public Edge edge() {
        return edge;
    }

    private void startPop(Pop.Config p) {
        Pop fresh = new Pop(p, context.transport(), context.clusterRegistry(), context.metrics());
        fresh.start(); // a port in use fails here
        pop = fresh;
    }

    private Edge startEdge(EdgeConfig e) {
        Edge fresh = new Edge(e.tunnels(), e.egress(), context.transport());
        fresh.start();
        log.info("edge {} dialling {} with {} tunnel(s)", e.tunnels().id(), e.tunnels().servers(), e.tunnels().connections());
        return fresh;
    }

    @Override
    public void reload(TitanConfig next) {
        reloadPop(config.section(OverlaySections.POP, Pop.Config.class), next.section(OverlaySections.POP, Pop.Config.class), next.drainTimeout());
        reloadEdge(config.section(OverlaySections.EDGE, EdgeConfig.class), next.section(OverlaySections.EDGE, EdgeConfig.class),
                next.drainTimeout());
        config = next;
    }

    private void reloadPop(Pop.Config old, Pop.Config next, Duration drain) {
        if (Objects.equals(old, next)) {
            return;
        }
        if (pop != null && next != null) {
            try {
                pop.update(next);
                log.info("reload: PoP updated");
            } catch (IllegalArgumentException e) {
                log.warn("reload: {}", e.getMessage());
            }
        } else if (next != null) {
            try {
                startPop(next);
                log.info("reload: {} added; PoP started", OverlaySections.POP);
            } catch (RuntimeException e) {
                log.error("reload: {} added but the PoP cannot start: {}", OverlaySections.POP, e.getMessage());
            }
        } else if (pop != null) {
            Pop gone = pop;
            pop = null;
            leaving.add(gone);
            gone.drain(drain);
            log.info("reload: {} removed; the PoP stopped accepting and its connections are draining", OverlaySections.POP);
        }
    }

    private void reloadEdge(EdgeConfig old, EdgeConfig next, Duration drain) {
        if (sameEdge(old, next)) {
            return; // a reload of other sections must not redial the PoPs
        }
        Edge previous = edge;
        edge = null;
        if (previous != null) {
            leaving.add(previous);
        }
        if (next == null) {
            if (previous != null) {
                previous.drain(drain);
            }
            log.info("reload: {} removed; its tunnels are draining", OverlaySections.EDGE);
            return;
        }
        Edge fresh = startEdge(next);
        edge = fresh;
        if (previous != null) {
            fresh.firstTunnel(Duration.ofSeconds(10)).thenRun(() -> {
                log.info("reload: edge replaced ({} new tunnel(s) up); draining the old one", fresh.connectedTunnels());
                previous.drain(drain);
            });
        }
    }

    /** Equal as configured (a record's byte[] secret compares by identity, so compare it by content). */
    private static boolean sameEdge(EdgeConfig a, EdgeConfig b) {
        if (a == null || b == null) {
            return a == b;
        }
        return String.valueOf(a.tunnels()).equals(String.valueOf(b.tunnels())) && a.tunnels().labels().equals(b.tunnels().labels())
                && Arrays.equals(a.tunnels().secret(), b.tunnels().secret()) && a.egress().equals(b.egress());
    }

    @Override
    public CompletableFuture<Void> drain(Duration timeout) {
        List<CompletableFuture<Void>> all = new ArrayList<>();
        if (edge != null) {
            all.add(edge.drain(timeout));
        }
        if (pop != null) {
            all.add(pop.drain(timeout));
        }
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
    }

    @Override
    public void close() {
        List<AutoCloseable> all = new ArrayList<>(leaving);
        if (edge != null) {
            all.add(edge);
        }
        if (pop != null) {
            all.add(pop);
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
