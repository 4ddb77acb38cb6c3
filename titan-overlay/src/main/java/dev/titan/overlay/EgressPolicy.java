package dev.titan.overlay;

import dev.titan.core.net.Cidr;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Where an edge may connect on a user's behalf, checked on the address a name resolved to (not on
 * the name, so that DNS rebinding cannot get around it). By default an edge refuses loopback,
 * RFC 1918, CGNAT (100.64/10), link-local (with 169.254.169.254, the cloud metadata address),
 * multicast and reserved space, IPv6 unique-local, link-local and multicast, its own addresses,
 * and port 25. The configuration adds networks to allow (a lab's own range), networks and ports
 * to deny, and domains to allow or deny ({@code example.com} also covers its subdomains).
 *
 * <p>Order: a denied domain, network or port refuses; else an allowed network permits (before the
 * default list and the edge's own addresses); else the default list refuses; else it is allowed.
 */
public record EgressPolicy(List<Cidr> allow, List<Cidr> deny, Set<Integer> denyPorts, List<String> allowDomains, List<String> denyDomains) {
    /** What an edge never reaches unless allowed. */
    public static final List<Cidr> DEFAULT_DENY = List.of(
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
            "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
            "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8").stream().map(Cidr::parse).toList();

    /** Port 25: an open relay for spam otherwise. */
    public static final Set<Integer> DEFAULT_DENY_PORTS = Set.of(25);

    public EgressPolicy {
        allow = List.copyOf(allow);
        deny = List.copyOf(deny);
        denyPorts = Set.copyOf(denyPorts);
        allowDomains = allowDomains.stream().map(EgressPolicy::domain).toList();
        denyDomains = denyDomains.stream().map(EgressPolicy::domain).toList();
    }

    /** The defaults, with {@code allow} added (e.g. {@code 127.0.0.0/8} for a lab). */
    public static EgressPolicy allowing(List<Cidr> allow) {
        return new EgressPolicy(allow, List.of(), DEFAULT_DENY_PORTS, List.of(), List.of());
    }

    /** Why {@code host} (as the user named it) may not be reached at all, or null; checked before it is resolved. */
    public String refuseName(String host, int port) {
        String h = domain(host);
        if (matches(denyDomains, h)) {
            return "domain " + host + " is denied";
        }
        if (denyPorts.contains(port) && !matches(allowDomains, h)) {
            return "port " + port + " is denied";
        }
        return null;
    }

    /** Why {@code address} (what {@code host} resolved to) may not be reached, or null. */
    public String refuseAddress(String host, InetAddress address, int port) {
        for (Cidr c : deny) {
            if (c.contains(address)) {
                return address.getHostAddress() + " is in denied network " + c;
            }
        }
        for (Cidr c : allow) {
            if (c.contains(address)) {
                return null;
            }
        }
        for (Cidr c : DEFAULT_DENY) {
            if (c.contains(address)) {
                return address.getHostAddress() + " is in " + c + ", not reached unless allowed";
            }
        }
        if (OwnAddresses.ALL.contains(address)) {
            return address.getHostAddress() + " is the edge's own address";
        }
        return null;
    }

    private static boolean matches(List<String> domains, String host) {
        for (String d : domains) {
            if (host.equals(d) || host.endsWith("." + d)) {
                return true;
            }
        }
        return false;
    }

    private static String domain(String s) {
        String d = s.toLowerCase(Locale.ROOT);
        return d.endsWith(".") ? d.substring(0, d.length() - 1) : d;
    }

    /** The addresses of this machine's interfaces, read once. */
    private static final class OwnAddresses {
        static final Set<InetAddress> ALL = read();

        private static Set<InetAddress> read() {
            List<InetAddress> out = new ArrayList<>();
            try {
                for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                    out.addAll(Collections.list(ni.getInetAddresses()));
                }
            } catch (SocketException e) {
                return Set.of(); // none known: the default list still covers loopback and private ranges
            }
            return Set.copyOf(out);
        }
    }
}
