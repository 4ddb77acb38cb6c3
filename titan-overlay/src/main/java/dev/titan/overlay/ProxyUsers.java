package dev.titan.overlay;

import dev.titan.core.net.Cidr;
import dev.titan.core.store.Store;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.MessageDigest;
import java.util.List;

/**
 * Who may use a PoP: users of the {@link Store} by name and password (compared in constant time),
 * or by source address for clients that cannot send proxy credentials (Chromium over SOCKS5), or
 * anyone when the configuration explicitly opens the proxy.
 */
final class ProxyUsers {
    /** Users admitted by the network they connect from. */
    record SourceRule(Cidr network, String user) {
    }

    private static final byte[] UNKNOWN = new byte[32];

    private final Store store;
    private final List<SourceRule> sources;
    private final boolean open;

    ProxyUsers(Store store, List<SourceRule> sources, boolean open) {
        this.store = store;
        this.sources = List.copyOf(sources);
        this.open = open;
    }

    /** The user {@code name} if {@code password} is its secret, else null. */
    String authenticate(String name, byte[] password) {
        Store.User u = name == null ? null : store.user(name);
        if (u == null) {
            MessageDigest.isEqual(password, UNKNOWN); // compare anyway: a wrong name takes as long as a wrong password
            return null;
        }
        return u.secretEquals(password) ? u.id() : null;
    }

    /** The user a connection from {@code client} is admitted as without credentials, or null. */
    String bySource(InetSocketAddress client) {
        if (client == null) {
            return null;
        }
        InetAddress a = client.getAddress();
        for (SourceRule r : sources) {
            if (r.network().contains(a)) {
                return r.user();
            }
        }
        return open ? ANONYMOUS : null;
    }

    /** The user name an open proxy's connections carry. */
    static final String ANONYMOUS = "anonymous";
}
