package dev.titan.overlay;

import dev.titan.core.cluster.Endpoint;
import dev.titan.core.limit.UserAccounts;
import dev.titan.core.net.Relay;
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
    final UserAccounts accounts;
    final dev.titan.core.net.Transport transport;
    final EdgeThroughput throughput = new EdgeThroughput(System::nanoTime);
    /** Whether to log [BROWSER_INFO] for each connection (opt-in). */
    volatile boolean browserInfo;

    PopContext(ProxyUsers users, PopMeters meters, EdgeRouting routing, UserAccounts accounts, dev.titan.core.net.Transport transport) {
        this.transport = transport;
        this.users = users;
        this.meters = meters;
        this.routing = routing;
        this.accounts = accounts;
    }

    /**
     * Admits a new connection of {@code username} (with its parameters) on {@code client}, holding its
     * place until the client closes; or the failure to answer (quota used up, too many connections
     * open or opened per second).
     */
    ProxyFailure admit(String username, Channel client) {
        String user = UserParams.parse(username).user();
        String why = accounts.admit(user, client);
        if (why == null) {
            return null;
        }
        ProxyFailure f = why.startsWith("quota")
                ? new ProxyFailure("http_request_denied", ProxyFailure.SOCKS_NOT_ALLOWED, 403, why)
                : new ProxyFailure("connection_limit_reached", ProxyFailure.SOCKS_GENERAL, 429, why);
        meters.failed(f.error());
        return f;
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

    /** Logs what the client sent first, if asked to ({@code head}: its HTTP proxy request, or null). */
    void browserInfo(DestinationRequest request, dev.titan.core.ingress.HttpHead head, io.netty.buffer.ByteBuf first) {
        if (browserInfo) {
            org.slf4j.LoggerFactory.getLogger("dev.titan.overlay.pop").info(Diagnostics.browserInfo(request, head, first));
        }
    }

    /** The failure to answer for a connection its cluster could not connect. */
    static ProxyFailure failure(Predicate<Endpoint> eligible, Throwable cause) {
        return eligible instanceof Refused r ? r.failure() : ProxyFailure.of(cause);
    }

    /**
     * A connection was connected, its relay about to start: a sticky session counts it as in use, and
     * the user's usage, bandwidth limits, quota and meters account for its upstream.
     */
    void connected(DestinationRequest request, Channel client, dev.titan.core.cluster.Cluster cluster, dev.titan.core.cluster.Cluster.Connection up) {
        Channel upstream = up.channel();
        String edge = up.endpoint().id();
        Relay.account(upstream, new Relay.Accounting(throughput.connection(edge, () -> cluster.reportFailure(up.endpoint())), null, null));
        if (request.user() == null) {
            return;
        }
        UserParams p = UserParams.parse(request.user());
        routing.opened(p, client);
        Relay.account(upstream, accounts.accounting(p.user(), upstream, meters.user(p.user())));
    }

    /** The routing's refusal, as the eligibility of a route that nothing may take. */
    record Refused(ProxyFailure failure) implements Predicate<Endpoint> {
        @Override
        public boolean test(Endpoint e) {
            return false;
        }
    }
}
