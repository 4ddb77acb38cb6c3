package dev.titan.overlay;

import dev.titan.tunnel.StreamTargets;
import io.netty.channel.EventLoop;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.LongAdder;

/**
 * An edge's streams: each names {@code host:port} (a name, an IPv4 address, or {@code [v6]}); the
 * name is resolved here, at the edge (remote DNS), and the first address the {@link EgressPolicy}
 * allows is connected. A refused target is answered 403 ({@code destination_ip_prohibited}), a
 * name that does not resolve 502 ({@code dns_error}); no packet goes to a refused address.
 */
final class EgressTargets implements StreamTargets {
    /** Resolution blocks (the JDK's resolver): on virtual threads, never on an event loop. */
    private static final Executor RESOLVER = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("titan-edge-dns-", 0).factory());

    private final EgressPolicy policy;
    private final dev.titan.core.net.Transport transport;
    final LongAdder refused = new LongAdder();

    EgressTargets(EgressPolicy policy, dev.titan.core.net.Transport transport) {
        this.policy = policy;
        this.transport = transport;
    }

    /** A user's UDP association: datagrams relayed through a UDP socket of this edge, each checked against the policy. */
    @Override
    public boolean datagrams(io.netty.channel.Channel stream) {
        UdpExit.start(stream, this, transport);
        return true;
    }

    @Override
    public Future<Target> resolve(String authority, EventLoop loop) {
        HostPortTarget t = HostPortTarget.parse(authority);
        if (t == null) {
            return loop.newFailedFuture(new Refused("400", "http_request_error", "not a host:port target: " + authority));
        }
        String why = policy.refuseName(t.host(), t.port());
        if (why != null) {
            return refuse(loop, why);
        }
        byte[] literal = NetUtil.createByteArrayFromIpAddressString(t.host());
        if (literal != null) {
            try {
                return checked(loop, t, new InetAddress[] {InetAddress.getByAddress(literal)});
            } catch (UnknownHostException e) {
                return loop.newFailedFuture(new Refused("400", "http_request_error", "bad address " + t.host()));
            }
        }
        Promise<Target> p = loop.newPromise();
        RESOLVER.execute(() -> {
            try {
                InetAddress[] all = InetAddress.getAllByName(t.host());
                loop.execute(() -> checked(loop, t, all).addListener(f -> {
                    if (f.isSuccess()) {
                        p.trySuccess((Target) f.getNow());
                    } else {
                        p.tryFailure(f.cause());
                    }
                }));
            } catch (UnknownHostException e) {
                p.tryFailure(new Refused("502", "dns_error", t.host() + " does not resolve"));
            } catch (RuntimeException e) {
                p.tryFailure(new Refused("502", "dns_error", t.host() + ": " + e));
            }
        });
        return p;
    }

    private Future<Target> checked(EventLoop loop, HostPortTarget t, InetAddress[] addresses) {
        String why = null;
        for (InetAddress a : addresses) {
            String no = policy.refuseAddress(t.host(), a, t.port());
            if (no == null) {
                return loop.newSucceededFuture(new Target(t.host() + ":" + t.port(), new InetSocketAddress(a, t.port()), null, true));
            }
            why = why == null ? no : why;
        }
        return refuse(loop, why);
    }

    private Future<Target> refuse(EventLoop loop, String why) {
        refused.increment();
        return loop.newFailedFuture(new Refused("403", "destination_ip_prohibited", why));
    }

    /** A stream's target: host (a name or an address literal, brackets removed) and port. */
    record HostPortTarget(String host, int port) {
        static HostPortTarget parse(String authority) {
            if (authority == null) {
                return null;
            }
            int colon = authority.lastIndexOf(':');
            if (colon <= 0 || colon == authority.length() - 1) {
                return null;
            }
            String host = authority.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            } else if (host.indexOf(':') >= 0) {
                return null; // an IPv6 address must be bracketed
            }
            int port;
            try {
                port = Integer.parseInt(authority.substring(colon + 1));
            } catch (NumberFormatException e) {
                return null;
            }
            return host.isEmpty() || port < 1 || port > 65_535 ? null : new HostPortTarget(host, port);
        }
    }
}
