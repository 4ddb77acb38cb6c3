package dev.titan.overlay;

import dev.titan.core.cluster.Endpoint;
import dev.titan.core.limit.UserAccounts;
import dev.titan.core.net.Relay;
import dev.titan.core.route.DestinationRequest;
import dev.titan.core.ingress.HttpHead;
import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
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
        return refusal(accounts.admit(UserParams.parse(username).user(), client));
    }

    /** For a further request on a connection {@code username} was admitted on: the failure when its quota is used up, or null. */
    ProxyFailure quota(String username) {
        return refusal(accounts.quotaUsed(UserParams.parse(username).user()));
    }

    private ProxyFailure refusal(String why) {
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
     * Who an HTTP proxy request is from: the user its {@code Proxy-Authorization: Basic} names (the
     * whole username, with its parameters), else the user its source address is allowed for; a null
     * user with the reason when neither.
     */
    HttpUser httpUser(HttpHead h, Channel client) {
        String auth = h.header("proxy-authorization");
        if (auth == null || !auth.regionMatches(true, 0, "Basic ", 0, 6)) {
            String bySource = users.bySource((InetSocketAddress) client.remoteAddress());
            return new HttpUser(bySource, "proxy credentials are missing or wrong");
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(auth.substring(6).strip()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return new HttpUser(null, "proxy credentials are not base64");
        }
        int colon = decoded.indexOf(':');
        if (colon < 0) {
            return new HttpUser(null, "proxy credentials are missing or wrong");
        }
        try {
            return new HttpUser(authenticate(decoded.substring(0, colon), decoded.substring(colon + 1).getBytes(StandardCharsets.UTF_8)),
                    "proxy credentials are missing or wrong");
        } catch (IllegalArgumentException e) {
            return new HttpUser(null, "username: " + e.getMessage());
        }
    }

    /** {@link #httpUser}'s answer: {@code user}, or null and {@code refusal}. */
    record HttpUser(String user, String refusal) {
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
    void browserInfo(DestinationRequest request, HttpHead head, io.netty.buffer.ByteBuf first) {
        if (browserInfo) {
            org.slf4j.LoggerFactory.getLogger("dev.titan.overlay.pop").info(Diagnostics.browserInfo(request, head, first));
        }
    }

    /** The failure to answer for a connection its cluster could not connect. */
    static ProxyFailure failure(Predicate<Endpoint> eligible, Throwable cause) {
        return eligible instanceof Refused r ? r.failure() : ProxyFailure.of(cause);
    }

    /** A routed connection its cluster could not connect: the failure to answer, counted in the meters and logged. */
    ProxyFailure failed(dev.titan.core.route.Router.Route route, Throwable cause) {
        ProxyFailure f = failure(route.eligible(), cause);
        meters.failed(f.error());
        PopLog.failed(route.request(), f);
        return f;
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
