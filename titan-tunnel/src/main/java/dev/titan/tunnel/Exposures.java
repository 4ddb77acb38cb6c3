package dev.titan.tunnel;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.config.HostPort;
import dev.titan.core.config.ListenerConfig;
import dev.titan.core.metrics.TitanMetrics;
import dev.titan.core.net.Transport;
import dev.titan.core.route.Router;
import dev.titan.l4.TcpListener;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TCP ports tunnel clients publish: each is an ordinary {@link TcpListener} (backlog, limits,
 * listener meters {@code tunnel:<id>:<port>}) whose router sends every connection to the client's
 * cluster, naming the service. A port opens when the first tunnel that publishes it registers and
 * closes when the client's last tunnel has gone. Binding and closing happen in order on a thread
 * of their own, never on an event loop.
 */
final class Exposures implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Exposures.class);

    private final Transport transport;
    private final TitanMetrics metrics;
    private final Function<String, Cluster> clusters;
    private final Map<Integer, Exposure> byPort = new ConcurrentHashMap<>();
    private final ExecutorService binder = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon().name("titan-tunnel-expose")
            .unstarted(r));

    Exposures(Transport transport, TitanMetrics metrics, Function<String, Cluster> clusters) {
        this.transport = transport;
        this.metrics = metrics;
        this.clusters = clusters;
    }

    private static final class Exposure {
        final String clientId;
        final String service;
        final int port;
        final TcpListener listener;
        volatile boolean listening;

        Exposure(String clientId, String service, int port, TcpListener listener) {
            this.clientId = clientId;
            this.service = service;
            this.port = port;
            this.listener = listener;
        }
    }

    /** Opens {@code port} for {@code clientId}'s {@code service}, unless it is open already. */
    void expose(String clientId, String service, InetSocketAddress at, Duration idleTimeout) {
        int port = at.getPort();
        Exposure[] created = new Exposure[1];
        Exposure e = byPort.computeIfAbsent(port, p -> {
            Router router = request -> {
                Cluster c = clusters.apply(clientId);
                return c == null ? null : new Router.Route(c, request.withTarget(service, 0));
            };
            String name = TunnelRegistry.CLUSTER_PREFIX + clientId + ":" + p;
            ListenerConfig config = ListenerConfig.tcp(name, TunnelRegistry.CLUSTER_PREFIX + clientId, at, idleTimeout);
            created[0] = new Exposure(clientId, service, p, new TcpListener(config, router, transport, metrics.listener(name)));
            return created[0];
        });
        if (created[0] != null) {
            binder.execute(() -> open(created[0], at)); // once it is in the map: a close that comes first wins
        }
        if (!e.clientId.equals(clientId) || !e.service.equals(service)) {
            log.warn("tunnel of {}: port {} is already exposed for {}/{}", clientId, port, e.clientId, e.service);
        }
    }

    private void open(Exposure e, InetSocketAddress at) {
        if (byPort.get(e.port) != e) {
            return; // closed before it opened
        }
        try {
            e.listener.start();
            e.listening = true;
            log.info("exposing {}/{} on {}", e.clientId, e.service, HostPort.format(e.listener.boundAddress()));
        } catch (RuntimeException ex) {
            log.warn("cannot expose {}/{} on {}: {}", e.clientId, e.service, HostPort.format(at), ex.getMessage());
            byPort.remove(e.port, e);
        }
    }

    /** Closes the ports of {@code clientId}; connections through them end with their tunnels. */
    void closeAll(String clientId) {
        byPort.values().removeIf(e -> {
            if (!e.clientId.equals(clientId)) {
                return false;
            }
            binder.execute(() -> stop(e, Duration.ZERO));
            return true;
        });
    }

    private static void stop(Exposure e, Duration drain) {
        e.listener.stopAccepting();
        var drained = e.listener.drain(drain);
        if (drain.isZero()) {
            try {
                drained.get(5, TimeUnit.SECONDS); // closing: nothing is left for event loops about to stop
            } catch (Exception ex) {
                log.debug("port {}: connections still closing: {}", e.port, ex.toString());
            }
        }
        log.info("no longer exposing {}/{} on port {}", e.clientId, e.service, e.port);
    }

    /** The ports listening for {@code clientId}. */
    List<Integer> ports(String clientId) {
        return byPort.values().stream().filter(e -> e.listening && e.clientId.equals(clientId)).map(e -> e.port).sorted().toList();
    }

    /** Stops accepting on every port; the connections they carry keep going until {@code drain}. */
    void stopAccepting(Duration drain) {
        byPort.values().removeIf(e -> {
            binder.execute(() -> stop(e, drain));
            return true;
        });
    }

    /** Closes every port and its connections; returns once done (at most a few seconds). */
    @Override
    public void close() {
        stopAccepting(Duration.ZERO);
        binder.shutdown();
        try {
            binder.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
