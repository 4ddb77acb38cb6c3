package dev.titan.core.net;

import dev.titan.core.cluster.Endpoint;
import dev.titan.core.route.DestinationRequest;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.nio.channels.UnresolvedAddressException;
import java.time.Duration;

/**
 * Dials TCP connections to endpoints with the options every Titan relay expects ({@link
 * RelayOptions}, auto-read off: the relay reads on demand), TCP_NODELAY and keepalive as configured.
 * Its channels are {@link Transport#newSocketChannel}'s for relayed connections, or with {@link
 * #withKernelRtt} ones whose kernel round trip can be read (a tunnel's).
 */
public final class TcpConnector implements Connector {
    private final Transport transport;
    private final boolean noDelay;
    private final boolean keepAlive;
    private final boolean kernelRtt;

    public TcpConnector(Transport transport, boolean noDelay, boolean keepAlive) {
        this(transport, noDelay, keepAlive, false);
    }

    private TcpConnector(Transport transport, boolean noDelay, boolean keepAlive, boolean kernelRtt) {
        this.transport = transport;
        this.noDelay = noDelay;
        this.keepAlive = keepAlive;
        this.kernelRtt = kernelRtt;
    }

    /** The same connector for connections whose kernel round trip is read ({@link Transport#tcpRttNanos}). */
    public TcpConnector withKernelRtt() {
        return new TcpConnector(transport, noDelay, keepAlive, true);
    }

    public Transport transport() {
        return transport;
    }

    @Override
    public Future<Channel> connect(Endpoint endpoint, DestinationRequest request, EventLoop loop, Duration timeout) {
        ChannelFuture cf = connect(endpoint.address(), loop, timeout);
        io.netty.util.concurrent.Promise<Channel> p = loop.newPromise();
        cf.addListener(f -> {
            if (!f.isSuccess()) {
                p.tryFailure(f.cause());
                return;
            }
            if (request.writeFirstBytes(cf.channel())) {
                cf.channel().flush();
            }
            if (!p.trySuccess(cf.channel())) {
                cf.channel().close();
            }
        });
        return p;
    }

    /**
     * Starts a connection to {@code address} (resolved) on {@code loop}; the future completes when it
     * is up. The channel is built directly rather than through a {@code Bootstrap}: no reflective
     * factory, no option map, no resolver lookup per connection.
     */
    public ChannelFuture connect(InetSocketAddress address, EventLoop loop, Duration timeout) {
        DuplexChannel ch = transport.newSocketChannel(address, kernelRtt);
        ChannelConfig c = ch.config();
        RelayOptions.apply(c);
        c.setAutoRead(false);
        c.setConnectTimeoutMillis((int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis())));
        if (noDelay != Boolean.TRUE.equals(c.getOption(ChannelOption.TCP_NODELAY))) { // Netty's channels start with it on, Titan's off
            c.setOption(ChannelOption.TCP_NODELAY, noDelay);
        }
        if (keepAlive) {
            c.setOption(ChannelOption.SO_KEEPALIVE, true);
        }
        // the promise names its loop: callers on other threads may add listeners before the channel is registered
        ChannelPromise promise = new DefaultChannelPromise(ch, loop);
        // a failed connect leaves the channel open and registered (Bootstrap closes it; without one we must):
        // measured, unclosed sockets of refused connects reported EPOLLHUP forever and spun the event loop
        promise.addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        if (address == null || address.isUnresolved()) {
            ch.unsafe().closeForcibly();
            return promise.setFailure(new UnresolvedAddressException());
        }
        loop.register(ch).addListener(r -> {
            if (r.isSuccess()) {
                ch.connect(address, promise);
            } else {
                ch.unsafe().closeForcibly();
                promise.setFailure(r.cause());
            }
        });
        return promise;
    }
}
