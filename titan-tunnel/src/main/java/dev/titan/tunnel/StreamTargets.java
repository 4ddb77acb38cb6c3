package dev.titan.tunnel;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Objects;

/**
 * Where the streams a server opens in a client's tunnels go. A reverse-tunnel client serves the
 * services it published, by name ({@link #services}); an edge of the overlay dials whatever
 * {@code host:port} a stream names, as its egress policy allows.
 */
public interface StreamTargets {
    /** The target of a stream that carries datagrams (an overlay user's UDP association) instead of a byte stream. */
    String DATAGRAMS = "udp";

    /** The stream header that names, on a refusal, what failed at the target (an RFC 9209 error type). */
    String ERROR_HEADER = "titan-error";

    /**
     * Resolves a stream's target (its {@code :authority}) on {@code loop}: the address to connect,
     * or a failed future whose cause is a {@link Refused}.
     */
    Future<Target> resolve(String authority, EventLoop loop);

    /**
     * What a stream connects to. {@code reportTarget}: a connect that fails is the target's failure,
     * not the client's, and is answered with its kind ({@link #ERROR_HEADER}) so that the server
     * neither blames this client nor tries the target through another.
     */
    record Target(String name, InetSocketAddress address, String proxyProtocol, boolean reportTarget) {
        public Target {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(address, "address");
        }
    }

    /** A stream that cannot go where it asks: answered with {@code status} and, when set, {@code error} as its kind. */
    final class Refused extends Exception {
        private final String status;
        private final String error;

        public Refused(String status, String error, String message) {
            super(message, null, false, false);
            this.status = status;
            this.error = error;
        }

        public String status() {
            return status;
        }

        /** An RFC 9209 error type ({@code destination_ip_prohibited}, {@code dns_error}, ...), or null. */
        public String error() {
            return error;
        }
    }

    /**
     * Serves a stream whose target is {@link #DATAGRAMS}: answers it and relays its datagrams itself.
     * False when this client relays no datagrams (the stream is answered 404). The stream's reading is
     * off, with what arrived early held for {@link dev.titan.core.net.EarlyInput#replay}.
     */
    default boolean datagrams(io.netty.channel.Channel stream) {
        return false;
    }

    /** A reverse-tunnel client's published services, by name; any other name is answered 404. */
    static StreamTargets services(Map<String, TunnelClientConfig.LocalService> services) {
        return (authority, loop) -> {
            TunnelClientConfig.LocalService svc = authority == null ? null : services.get(authority);
            if (svc == null) {
                return loop.newFailedFuture(new Refused("404", null, "no service " + authority));
            }
            return loop.newSucceededFuture(new Target(svc.name(), svc.local(), svc.proxyProtocol(), false));
        };
    }
}
