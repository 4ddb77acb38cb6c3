package dev.titan.core.endpoint;

import dev.titan.core.config.HostPort;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Parses seed 001's IP-list format, one entry a line: {@code 10.0.0.1}, {@code 10.0.0.1:8080},
 * {@code 2001:db8::1}, {@code [2001:db8::2]:8080}, CIDR ranges {@code 10.0.0.0/24} (on the default
 * port), and host names with an optional port (resolved by DNS). {@code #} starts a comment; an
 * optional {@code weight=N} after the address sets its weight for weighted balancers.
 */
public final class AddressListParser {
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    private static final Pattern HOSTNAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\\.?");

    private AddressListParser() {
    }

    /** A host name to resolve later, with its port and weight. */
    public record HostEntry(String host, int port, int weight) {
    }

    /** The literal addresses, the host names to resolve, and each line's problem. */
    public record Result(AddressList addresses, List<HostEntry> hosts, List<String> problems) {
    }

    public static Result parse(List<String> lines, int defaultPort, String origin) {
        AddressList.Builder b = new AddressList.Builder();
        List<HostEntry> hosts = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int hash = line.indexOf('#');
            String s = (hash >= 0 ? line.substring(0, hash) : line).trim();
            if (s.isEmpty()) {
                continue;
            }
            try {
                parseEntry(s, defaultPort, b, hosts);
            } catch (IllegalArgumentException e) {
                problems.add(origin + ":" + (i + 1) + ": " + e.getMessage());
            }
        }
        return new Result(b.build(), List.copyOf(hosts), List.copyOf(problems));
    }

    public static Result parse(String text, int defaultPort, String origin) {
        return parse(text.lines().toList(), defaultPort, origin);
    }

    private static void parseEntry(String s, int defaultPort, AddressList.Builder b, List<HostEntry> hosts) {
        int weight = 1;
        String[] parts = s.split("\\s+");
        if (parts.length > 2) {
            throw new IllegalArgumentException("'" + s + "': expected an address and an optional weight=N");
        }
        if (parts.length == 2) {
            if (!parts[1].startsWith("weight=")) {
                throw new IllegalArgumentException("'" + s + "': unknown option '" + parts[1] + "' (only weight=N)");
            }
            try {
                weight = Integer.parseInt(parts[1].substring("weight=".length()));
            } catch (NumberFormatException e) {
                weight = -1;
            }
            if (weight < 1 || weight > 1000) {
                throw new IllegalArgumentException("'" + s + "': weight must be 1-1000");
            }
        }
        String entry = parts[0];
        int slash = entry.indexOf('/');
        if (slash >= 0) {
            String ip = entry.substring(0, slash);
            InetAddress base = literal(ip);
            if (base == null) {
                throw new IllegalArgumentException("'" + entry + "': a CIDR range needs an IP address, got '" + ip + "'");
            }
            int bits = base.getAddress().length * 8;
            int prefix;
            try {
                prefix = Integer.parseInt(entry.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefix = -1;
            }
            if (prefix < 0 || prefix > bits) {
                throw new IllegalArgumentException("'" + entry + "': prefix length must be 0-" + bits);
            }
            b.addCidr(base, prefix, defaultPort, weight);
            return;
        }
        HostPort.Parsed hp = HostPort.parse(entry);
        int port = hp.port() < 0 ? defaultPort : hp.port();
        if (port == 0) {
            throw new IllegalArgumentException("'" + entry + "': port 0 is not a destination");
        }
        InetAddress ip = literal(hp.host());
        if (ip != null) {
            b.add(new InetSocketAddress(ip, port), weight);
        } else if (HOSTNAME.matcher(hp.host()).matches() && !IPV4.matcher(hp.host()).matches()) {
            hosts.add(new HostEntry(hp.host(), port, weight));
        } else {
            throw new IllegalArgumentException("'" + entry + "': not an IP address, [IPv6]:port, CIDR range or host name");
        }
    }

    /** The address if {@code s} is an IPv4 or IPv6 literal, else null; never asks DNS. */
    static InetAddress literal(String s) {
        if (IPV4.matcher(s).matches()) {
            for (String octet : s.split("\\.")) {
                if (Integer.parseInt(octet) > 255) {
                    return null;
                }
            }
        } else if (s.indexOf(':') < 0 || !s.matches("[0-9A-Fa-f:.]+")) {
            return null;
        }
        try {
            // A checked literal: getByName parses it without asking DNS.
            return InetAddress.getByName(s);
        } catch (java.net.UnknownHostException e) {
            return null;
        }
    }
}
