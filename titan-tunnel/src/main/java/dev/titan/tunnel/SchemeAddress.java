package dev.titan.tunnel;

import dev.titan.core.config.HostPort;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.Map;

/**
 * {@code scheme://host[:port][/path]} as the tunnel's settings write addresses (tunnel servers,
 * local services), resolved. {@code host} is kept as written (a TLS server name, an HTTP Host);
 * {@code path} is null when there is none.
 */
record SchemeAddress(String scheme, String host, InetSocketAddress address, String path) {
    /**
     * Parses {@code text}; {@code defaultPorts} names the schemes allowed, each with its default
     * port (-1: the port must be given). Errors name {@code text} and what was expected.
     */
    static SchemeAddress parse(String text, Map<String, Integer> defaultPorts) {
        int sep = text.indexOf("://");
        String schemes = String.join(", ", defaultPorts.keySet());
        if (sep < 0) {
            throw new IllegalArgumentException("'" + text + "': expected scheme://host[:port] with a scheme of " + schemes);
        }
        String scheme = text.substring(0, sep).toLowerCase(Locale.ROOT);
        Integer defaultPort = defaultPorts.get(scheme);
        if (defaultPort == null) {
            throw new IllegalArgumentException("'" + text + "': the scheme must be one of " + schemes + ", got " + scheme);
        }
        String rest = text.substring(sep + 3);
        String path = null;
        int slash = rest.indexOf('/');
        if (slash >= 0) {
            path = rest.substring(slash);
            rest = rest.substring(0, slash);
        }
        HostPort.Parsed p = HostPort.parse(rest);
        int port = p.port() >= 0 ? p.port() : defaultPort;
        if (port <= 0) {
            throw new IllegalArgumentException("'" + text + "': a port is required");
        }
        try {
            return new SchemeAddress(scheme, p.host(), new InetSocketAddress(InetAddress.getByName(p.host()), port), path);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("'" + text + "': unknown host " + p.host());
        }
    }
}
