package dev.titan.core.ingress;

import dev.titan.core.config.ListenerConfig;
import io.netty.channel.ChannelHandler;

/**
 * Makes the handler that reads a new connection's opening on a TCP listener: an {@link Ingress}
 * (one per connection), or null for raw TCP, where nothing is read before routing. The built-in
 * kinds a listener's {@code ingress} names are {@link #BUILT_IN}; a module that brings its own
 * protocol (a SOCKS5 or HTTP proxy port) hands its listeners its own factory.
 */
@FunctionalInterface
public interface IngressFactory {
    ChannelHandler create(ListenerConfig listener, Forwarder forwarder);

    /**
     * Whether the clients of {@code listener} speak first: its ingress reads their opening before
     * anything else happens, so the listener may wait for those bytes before it accepts (see
     * {@link dev.titan.core.net.Transport#deferAccept}). A module's proxy ports are; raw TCP is not
     * (the server may speak first, as SSH and SMTP do).
     */
    default boolean clientSpeaksFirst(ListenerConfig listener) {
        return true;
    }

    /** {@code ingress: tcp} (nothing read), {@code sni} (the ClientHello's name) and {@code http} (the request's Host). */
    IngressFactory BUILT_IN = new IngressFactory() {
        @Override
        public ChannelHandler create(ListenerConfig c, Forwarder forwarder) {
            return switch (c.ingress()) {
                case "sni" -> new SniIngress(c.name(), forwarder, c.ingressTimeout());
                case "http" -> new HttpIngress(c.name(), forwarder, c.ingressTimeout(), false);
                default -> null;
            };
        }

        @Override
        public boolean clientSpeaksFirst(ListenerConfig c) {
            return c.ingress().equals("sni") || c.ingress().equals("http");
        }
    };
}
