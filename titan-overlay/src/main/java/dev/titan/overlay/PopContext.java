package dev.titan.overlay;

import dev.titan.core.cluster.Endpoint;
import dev.titan.core.route.DestinationRequest;
import io.netty.channel.Channel;
import java.util.function.Predicate;

/**
 * What a PoP's ingresses share: who may use it (replaced on reload), its meters, and the routing
 * of users' connections to edges.
 */
final class PopContext {
    volatile ProxyUsers users;
    final PopMeters meters;
    final EdgeRouting routing;

    PopContext(ProxyUsers users, PopMeters meters, EdgeRouting routing) {
        this.users = users;
        this.meters = meters;
        this.routing = routing;
    }

    /**
     * The user a username and password authenticate, as the request will carry it (the whole
     * username, with its parameters), or null; a username with bad parameters throws
     * {@link IllegalArgumentException} with the reason.
     */
    String authenticate(String username, byte[] password) {
        UserParams p = UserParams.parse(username);
        return users.authenticate(p.user(), password) == null ? null : username;
    }

    /** The failure to answer for a connection its cluster could not connect. */
    static ProxyFailure failure(Predicate<Endpoint> eligible, Throwable cause) {
        return eligible instanceof Refused r ? r.failure() : ProxyFailure.of(cause);
    }

    /** A connection was connected: a sticky session counts it as in use. */
    void connected(DestinationRequest request, Channel client) {
        if (request.user() != null) {
            routing.opened(UserParams.parse(request.user()), client);
        }
    }

    /** The routing's refusal, as the eligibility of a route that nothing may take. */
    record Refused(ProxyFailure failure) implements Predicate<Endpoint> {
        @Override
        public boolean test(Endpoint e) {
            return false;
        }
    }
}
