package dev.titan.core.engine;

import dev.titan.core.route.Router;
import dev.titan.core.config.ListenerConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import io.netty.util.concurrent.EventExecutor;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/** A running listener of some protocol, as the engine manages it across reloads. */
public interface ListenerHandle {
    /** Binds and starts accepting; throws if the address cannot be bound. */
    void start();

    /** The bound address (with the real port when the config said 0). */
    InetSocketAddress boundAddress();

    /** True if {@code next} can be applied without re-binding (same protocol, address and socket options). */
    boolean canUpdateInPlace(ListenerConfig next);

    /** Applies limits, timeouts and the routes of {@code next}; new connections use them. */
    void update(ListenerConfig next, Router router);

    /** Stops accepting; established connections continue. */
    void stopAccepting();

    /** Completes when every connection ended, or closes the rest after {@code timeout}. */
    CompletableFuture<Void> drain(Duration timeout);

    int activeConnections();

    /** True if {@code next} listens where this listener does (a configured port 0 matches the port it got). */
    default boolean sameAddress(ListenerConfig next) {
        return next.listenAddr().equals(config().listenAddr()) || next.listenAddr().equals(boundAddress());
    }

    ListenerConfig config();

    /**
     * The drain every listener does: checks {@code idle} on {@code executor} every 50 ms until it
     * holds or {@code timeout} passes, then calls {@code closeRest}, which completes the returned
     * future once whatever was still open is closed.
     */
    static CompletableFuture<Void> drainUntilIdle(EventExecutor executor, Duration timeout, BooleanSupplier idle,
                                                  Consumer<CompletableFuture<Void>> closeRest) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        Runnable[] check = new Runnable[1];
        check[0] = () -> {
            if (idle.getAsBoolean() || System.nanoTime() - deadline >= 0) {
                closeRest.accept(done);
            } else {
                executor.schedule(check[0], 50, TimeUnit.MILLISECONDS);
            }
        };
        executor.execute(check[0]);
        return done;
    }
}
