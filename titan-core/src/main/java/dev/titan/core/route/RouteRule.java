package dev.titan.core.route;

import java.util.List;
import java.util.Locale;

/**
 * One rule of a listener's routes: the conditions a request must meet (each null when it does not
 * matter) and the cluster it then goes to. Host and SNI patterns are globs where {@code *} stands
 * for any run of characters ({@code *.example.org} matches {@code a.b.example.org}, not
 * {@code example.org}); names are compared without regard to case.
 *
 * <pre>{@code
 * routes:
 *   - { match: { sni: "*.example.org" }, cluster: web }
 *   - { match: { protocol: http, host: api.example.org }, cluster: api }
 * cluster: fallback        # the last rule, matching everything
 * }</pre>
 */
public record RouteRule(String host, String sni, String user, String protocol, String cluster) {
    /** The protocols a rule may name. */
    public static final List<String> PROTOCOLS = List.of(DestinationRequest.TCP, DestinationRequest.UDP, DestinationRequest.TLS,
            DestinationRequest.HTTP, DestinationRequest.WEBSOCKET, DestinationRequest.SOCKS5);

    public RouteRule {
        host = lower(host);
        sni = lower(sni);
    }

    /** The rule that matches every request: {@code cluster: X} on a listener. */
    public static RouteRule any(String cluster) {
        return new RouteRule(null, null, null, null, cluster);
    }

    public boolean matchesEverything() {
        return host == null && sni == null && user == null && protocol == null;
    }

    public boolean matches(DestinationRequest r) {
        return (protocol == null || protocol.equals(r.protocol()))
                && (user == null || user.equals(r.user()))
                && (sni == null || (r.sni() != null && glob(sni, r.sni().toLowerCase(Locale.ROOT))))
                && (host == null || (r.hostName() != null && glob(host, r.hostName().toLowerCase(Locale.ROOT))));
    }

    private static String lower(String s) {
        return s == null ? null : s.toLowerCase(Locale.ROOT);
    }

    /** Whether {@code name} matches {@code pattern}, where {@code *} is any run of characters (none included). */
    static boolean glob(String pattern, String name) {
        int p = 0;
        int n = 0;
        int star = -1;
        int mark = 0;
        while (n < name.length()) {
            if (p < pattern.length() && pattern.charAt(p) == name.charAt(n)) {
                p++;
                n++;
            } else if (p < pattern.length() && pattern.charAt(p) == '*') {
                star = p++;
                mark = n;
            } else if (star >= 0) {
                p = star + 1;
                n = ++mark;
            } else {
                return false;
            }
        }
        while (p < pattern.length() && pattern.charAt(p) == '*') {
            p++;
        }
        return p == pattern.length();
    }
}
