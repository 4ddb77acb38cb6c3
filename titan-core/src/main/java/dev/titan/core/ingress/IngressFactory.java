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

    /** {@code ingress: tcp} (nothing read), {@code sni} (the ClientHello's name) and {@code http} (the request's Host). */
    IngressFactory BUILT_IN = (c, forwarder) -> switch (c.ingress()) {
        case "sni" -> new SniIngress(c.name(), forwarder, c.ingressTimeout());
        case "http" -> new HttpIngress(c.name(), forwarder, c.ingressTimeout(), false);
        default -> null;
    };
}
