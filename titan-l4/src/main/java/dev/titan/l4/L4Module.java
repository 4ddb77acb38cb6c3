package dev.titan.l4;

import dev.titan.core.engine.ListenerFactory;
import dev.titan.core.engine.Module;
import java.util.Map;

/** The forwarder's listeners: {@code protocol: tcp} ({@link TcpListener}) and {@code protocol: udp} ({@link UdpListener}). */
public final class L4Module implements Module {
    @Override
    public String name() {
        return "l4";
    }

    @Override
    public Map<String, ListenerFactory> listeners() {
        return Map.of(
                "tcp", TcpListener::new,
                "udp", UdpListener::new);
    }
}
