package dev.titan.overlay;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/** A PoP's own counters: refused credentials by protocol, and failed connections by their RFC 9209 kind. */
final class PopMeters {
    private final MeterRegistry registry;

    PopMeters(MeterRegistry registry) {
        this.registry = registry;
    }

    void authFailed(String protocol) {
        Counter.builder("titan_pop_auth_failures").tag("protocol", protocol).description("Proxy connections refused for their credentials")
                .register(registry).increment();
    }

    void failed(String kind) {
        Counter.builder("titan_pop_failures").tag("kind", kind).description("User connections the PoP could not connect, by kind")
                .register(registry).increment();
    }
}
