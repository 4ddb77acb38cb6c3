package dev.titan.core.config;

/**
 * Reads one top-level section of the configuration that a module outside the core owns (for
 * example {@code tunnel_server}). It reports problems on {@code node} with their full key paths,
 * like every other section, and returns the section's immutable value.
 */
@FunctionalInterface
public interface SectionReader {
    Object read(ConfigNode node);
}
