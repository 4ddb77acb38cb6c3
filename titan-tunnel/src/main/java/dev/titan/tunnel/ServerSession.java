package dev.titan.tunnel;

import dev.titan.core.cluster.Endpoint;
import dev.titan.core.config.HostPort;
import dev.titan.core.net.Connector;
import dev.titan.core.route.DestinationRequest;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** One authenticated tunnel on the server: opens a stream to one of the client's services per user connection. */
public final class ServerSession {
    private final Channel channel;
    private final TunnelServerConfig.User user;
    private final TunnelProtocol.Auth auth;
    private final int maxStreams;
    private final AtomicInteger activeStreams = new AtomicInteger();
    private final AtomicLong streamsOpened = new AtomicLong();
    private volatile long rttNanos = -1;
    private volatile MuxSession mux;
    private volatile boolean goAwayReceived;
    private volatile Endpoint endpoint;

    ServerSession(Channel channel, TunnelServerConfig.User user, TunnelProtocol.Auth auth, int maxStreams) {
        this.channel = channel;
        this.user = user;
        this.auth = auth;
        this.maxStreams = maxStreams;
    }

    public String clientId() {
        return user.id();
    }

    TunnelServerConfig.User user() {
        return user;
    }

    public Channel channel() {
        return channel;
    }

    TunnelProtocol.Auth auth() {
        return auth;
    }

    /** Streams opened on this tunnel since it connected. */
    public long streamsOpened() {
        return streamsOpened.get();
    }

    public int activeStreams() {
        return activeStreams.get();
    }

    /** The last PING round trip in nanoseconds, -1 before the first. */
    public long rttNanos() {
        return rttNanos;
    }

    void rtt(long nanos) {
        rttNanos = nanos;
    }

    /**
     * True while this tunnel takes new streams: open, below its stream limit, and not draining (no
     * GOAWAY from the client). Asked from the users' event loops: the GOAWAY is noted in a volatile
     * flag on the tunnel's loop, since the codec's own state is only safe to read there.
     */
    boolean hasCapacity() {
        return !goAwayReceived && channel.isActive() && activeStreams.get() < maxStreams;
    }

    /** Whether {@code e} is a tunnel that is still connected and takes new streams (not draining). */
    public static boolean isLive(dev.titan.core.cluster.Endpoint e) {
        ServerSession s = e.attachment(ServerSession.class);
        return s != null && !s.goAwayReceived && s.channel.isActive();
    }

    /** The client sent GOAWAY: no new streams on this tunnel. On the tunnel's loop. */
    void goAwayReceived() {
        goAwayReceived = true;
    }

    /** This tunnel as an endpoint of its client's cluster. */
    Endpoint endpoint() {
        return endpoint;
    }

    void endpoint(Endpoint e) {
        endpoint = e;
    }

    void mux(MuxSession mux) {
        this.mux = mux;
    }

    /** Ends the tunnel gracefully: GOAWAY, then the close once its streams have ended, or after {@code timeout}. */
    void end(Duration timeout) {
        MuxSession m = mux;
        if (m == null) {
            channel.close();
        } else {
            channel.eventLoop().execute(() -> m.close(timeout.toMillis()));
        }
    }

    /**
     * Opens a stream to {@code target} (a service name) on the client for {@code request} (naming
     * who connected and where to if {@code tellAddresses}), with
     * {@code answer} in its pipeline from the start (it sees the client's answer, or the stream's
     * end), and sends the request's first bytes (a duplicate) right after the OPEN: the client
     * buffers them, within the stream's window, until its local connection is up. The stream lives
     * on the tunnel's event loop and has auto-read off; one read is asked for, the answer's.
     */
    Future<MuxStream> open(String target, DestinationRequest request, boolean tellAddresses, ChannelHandler answer) {
        Promise<MuxStream> promise = channel.eventLoop().newPromise();
        if (!hasCapacity()) {
            promise.setFailure(new Connector.NotServed("tunnel of " + clientId() + " takes no new stream now"));
            return promise;
        }
        activeStreams.incrementAndGet();
        streamsOpened.incrementAndGet();
        if (channel.eventLoop().inEventLoop()) {
            open(target, request, tellAddresses, answer, promise);
        } else {
            channel.eventLoop().execute(() -> open(target, request, tellAddresses, answer, promise));
        }
        return promise;
    }

    private void open(String target, DestinationRequest request, boolean tellAddresses, ChannelHandler answer, Promise<MuxStream> promise) {
        MuxSession m = mux;
        if (m == null || !channel.isActive() || goAwayReceived) {
            activeStreams.decrementAndGet();
            promise.setFailure(new Connector.NotServed("tunnel of " + clientId() + " takes no new stream now"));
            return;
        }
        MuxHead head = MuxHead.of(false).set(MuxHead.TARGET, target);
        // who connected, and where to: for X-Forwarded-For and the PROXY protocol on the client
        if (tellAddresses && request.client() != null && request.local() != null) {
            head.set(TunnelProtocol.CLIENT_ADDRESS_HEADER, HostPort.format(request.client()));
            head.set(TunnelProtocol.SERVER_ADDRESS_HEADER, HostPort.format(request.local()));
        }
        MuxStream stream = m.open(head, answer);
        stream.closeFuture().addListener(c -> activeStreams.decrementAndGet());
        request.writeFirstBytes(stream);
        stream.flush();
        promise.setSuccess(stream);
    }
}
