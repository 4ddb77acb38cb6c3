package dev.titan.l4;

import dev.titan.core.engine.ListenerFactory;
import java.util.Map;

/** The listener factories this module provides, by protocol name. */
public final class L4Listeners {
    private L4Listeners() {
    }

    public static Map<String, ListenerFactory> factories() {
        return Map.of(
                "tcp", TcpListener::new,
                "udp", UdpListener::new);
    }
}
