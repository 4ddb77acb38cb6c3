package dev.titan.core.route;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * What an ingress learnt from the start of a connection, for the router and the connector: where
 * it arrived (listener), who sent it (client address, the authenticated user if the protocol has
 * one), where it wants to go (target host and port, when the protocol names one), what it says
 * about itself (TLS SNI, HTTP Host and path), its protocol, and the bytes the ingress already read
 * to decide (the first flight, sent on by the connector).
 *
 * <p>The first bytes belong to the connection's handler, which releases them once the connection
 * is relayed or refused; a connector sends a {@linkplain ByteBuf#retainedDuplicate duplicate}, so
 * the same bytes can go to another endpoint when the first cannot take them.
 *
 * <pre>{@code
 * DestinationRequest r = DestinationRequest.tcp("web", client).withSni("app.example.org");
 * }</pre>
 */
public record DestinationRequest(
        String listener,
        InetSocketAddress client,
        InetSocketAddress local,
        String user,
        String targetHost,
        int targetPort,
        String sni,
        String httpHost,
        String httpPath,
        String protocol,
        ByteBuf firstBytes) {

    /** Protocols an ingress names (the router matches on them). */
    public static final String TCP = "tcp";
    public static final String UDP = "udp";
    public static final String TLS = "tls";
    public static final String HTTP = "http";
    public static final String WEBSOCKET = "websocket";
    public static final String SOCKS5 = "socks5";

    public DestinationRequest {
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(firstBytes, "firstBytes");
    }

    /** A raw TCP connection: nothing read, nothing named. */
    public static DestinationRequest tcp(String listener, Channel client) {
        return of(listener, client, TCP);
    }

    /** A connection of {@code protocol} with nothing read and nothing named yet. */
    public static DestinationRequest of(String listener, Channel client, String protocol) {
        return new DestinationRequest(listener, address(client.remoteAddress()), address(client.localAddress()), null, null, 0,
                null, null, null, protocol, Unpooled.EMPTY_BUFFER);
    }

    private static InetSocketAddress address(Object a) {
        return a instanceof InetSocketAddress i ? i : null;
    }

    public DestinationRequest withProtocol(String p) {
        return new DestinationRequest(listener, client, local, user, targetHost, targetPort, sni, httpHost, httpPath, p, firstBytes);
    }

    public DestinationRequest withUser(String u) {
        return new DestinationRequest(listener, client, local, u, targetHost, targetPort, sni, httpHost, httpPath, protocol, firstBytes);
    }

    /** The target the connector asks for ({@code port} 0: a name with no port, such as a tunnel client's service). */
    public DestinationRequest withTarget(String host, int port) {
        return new DestinationRequest(listener, client, local, user, host, port, sni, httpHost, httpPath, protocol, firstBytes);
    }

    public DestinationRequest withSni(String name) {
        return new DestinationRequest(listener, client, local, user, targetHost, targetPort, name, httpHost, httpPath, TLS, firstBytes);
    }

    public DestinationRequest withHttp(String host, String path) {
        return new DestinationRequest(listener, client, local, user, targetHost, targetPort, sni, host, path, protocol, firstBytes);
    }

    /** The same request with {@code bytes} as its first flight (taken over by the request's owner). */
    public DestinationRequest withFirstBytes(ByteBuf bytes) {
        return new DestinationRequest(listener, client, local, user, targetHost, targetPort, sni, httpHost, httpPath, protocol, bytes);
    }

    /** The name the request is known by for routing: the HTTP host, else the SNI, else the target host; null if none. */
    public String hostName() {
        return httpHost != null ? httpHost : sni != null ? sni : targetHost;
    }

    /** Writes a duplicate of the first bytes to {@code ch} (not flushed); false if there were none. */
    public boolean writeFirstBytes(Channel ch) {
        if (!firstBytes.isReadable()) {
            return false;
        }
        ch.write(firstBytes.retainedDuplicate(), ch.voidPromise());
        return true;
    }

    /** Releases the first bytes; the request's owner calls it once, when the connection is relayed or refused. */
    public void release() {
        firstBytes.release(); // the empty buffer ignores it
    }

    @Override
    public String toString() { // no payload, ever
        return protocol + " " + (client == null ? "?" : client) + " -> " + (hostName() == null ? listener : hostName())
                + (targetPort > 0 ? ":" + targetPort : "") + (user == null ? "" : " user " + user);
    }
}
