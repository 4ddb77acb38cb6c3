package dev.titan.core.engine;

import dev.titan.core.config.SectionReader;
import dev.titan.core.config.TitanConfig;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * A part of Titan beside the core: the configuration sections it owns, the listener kinds it
 * provides, and its life with the process (start, reload, drain, close). The runner treats every
 * module alike; the engine runs the listeners of every protocol a module provides.
 *
 * <p>A module that owns sections starts what they ask for in {@link #start} (nothing when they
 * are absent) and follows them in {@link #reload}: a section that appears starts, one that changes
 * applies, one that disappears drains. Hooks run on the runner's thread, one at a time.
 */
public interface Module {
    /** A short name for logs ("l4", "tunnel"). */
    String name();

    /** The top-level configuration sections this module reads, by name. */
    default Map<String, SectionReader> sections() {
        return Map.of();
    }

    /** The listener protocols this module provides, by the {@code protocol} a listener names. */
    default Map<String, ListenerFactory> listeners() {
        return Map.of();
    }

    /** Starts what {@code config} asks of this module; throws if it cannot (a port in use), and the process does not start. */
    default void start(TitanConfig config, ModuleContext context) {
    }

    /** Applies a reloaded configuration; problems are logged, and what runs keeps running. */
    default void reload(TitanConfig next) {
    }

    /** Stops accepting and lets what is open end, at most {@code timeout}; completes when all has ended. */
    default CompletableFuture<Void> drain(Duration timeout) {
        return CompletableFuture.completedFuture(null);
    }

    /** Releases what is left, after a drain; before the event loops stop. */
    default void close() {
    }
}
