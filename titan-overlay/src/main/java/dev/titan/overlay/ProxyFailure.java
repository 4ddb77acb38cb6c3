package dev.titan.overlay;

import dev.titan.core.cluster.Cluster;
import dev.titan.core.net.Connector;
import dev.titan.tunnel.TunnelConnector;

/**
 * Why a user's connection through the PoP failed, in the words of each proxy protocol: the SOCKS5
 * reply code (RFC 1928), the HTTP status, and the RFC 9209 {@code Proxy-Status} error type with a
 * detail the user can act on. One kind per failure, so that a user, a log line and a metric label
 * name the same thing.
 */
record ProxyFailure(String error, int socksReply, int httpStatus, String detail) {
    static final int SOCKS_GENERAL = 0x01;
    static final int SOCKS_NOT_ALLOWED = 0x02;
    static final int SOCKS_NETWORK_UNREACHABLE = 0x03;
    static final int SOCKS_HOST_UNREACHABLE = 0x04;
    static final int SOCKS_REFUSED = 0x05;
    static final int SOCKS_TTL_EXPIRED = 0x06;
    static final int SOCKS_COMMAND_NOT_SUPPORTED = 0x07;

    /** The failure a cluster's connect ended with. */
    static ProxyFailure of(Throwable cause) {
        if (cause instanceof Cluster.NoEndpointException) {
            return new ProxyFailure("destination_unavailable", SOCKS_GENERAL, 503, "no edge is connected");
        }
        if (cause instanceof TunnelConnector.TargetFailed t) {
            return switch (t.error()) {
                case "destination_ip_prohibited" -> new ProxyFailure(t.error(), SOCKS_NOT_ALLOWED, 403, "the edge's egress policy refuses the target");
                case "dns_error" -> new ProxyFailure(t.error(), SOCKS_HOST_UNREACHABLE, 502, "the target's name does not resolve at the edge");
                case "connection_timeout" -> new ProxyFailure(t.error(), SOCKS_TTL_EXPIRED, 504, "the target did not answer the edge's connect");
                case "destination_ip_unroutable" -> new ProxyFailure(t.error(), SOCKS_NETWORK_UNREACHABLE, 502, "no route from the edge to the target");
                case "connection_refused" -> new ProxyFailure(t.error(), SOCKS_REFUSED, 502, "the target refused the edge's connect");
                default -> new ProxyFailure(t.error(), SOCKS_GENERAL, 502, "the edge could not reach the target");
            };
        }
        if (cause instanceof Connector.Declined d) {
            return new ProxyFailure("connection_limit_reached", SOCKS_GENERAL, 503, d.getMessage());
        }
        return new ProxyFailure("destination_unavailable", SOCKS_GENERAL, 502, "no edge could open the connection");
    }

    /** Answers an HTTP proxy client with the status and a {@code Proxy-Status} header naming this failure, then closes it. */
    void answerHttp(io.netty.channel.Channel client) {
        if (client.isActive()) {
            dev.titan.core.ingress.HttpIngress.respond(client, httpStatus, "Proxy-Status: " + proxyStatus() + "\r\n", detail);
        }
    }

    /** The {@code Proxy-Status} header's value. */
    String proxyStatus() {
        return "titan; error=" + error + "; details=\"" + detail.replace("\"", "'") + "\"";
    }
}
