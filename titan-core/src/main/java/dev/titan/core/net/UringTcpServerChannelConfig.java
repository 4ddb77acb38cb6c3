package dev.titan.core.net;

import io.netty.channel.ChannelOption;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.util.NetUtil;
import java.io.IOException;
import java.util.Map;

/**
 * The options of a {@link UringTcpServerChannel}: the listening socket's (backlog, SO_REUSEADDR,
 * SO_REUSEPORT, TCP_DEFER_ACCEPT, SO_RCVBUF) and the two its connections take from it
 * (TCP_NODELAY, on by default as on Netty's channels, and SO_KEEPALIVE). All are set on the
 * socket when it is made, at the bind; changing them afterwards is refused.
 */
public final class UringTcpServerChannelConfig extends DefaultChannelConfig {
    private final UringTcpServerChannel channel;
    private volatile int backlog = NetUtil.SOMAXCONN;
    private volatile boolean reuseAddress;
    private volatile boolean reusePort;
    private volatile int deferAcceptSeconds;
    private volatile int receiveBufferSize;
    private volatile boolean noDelay = true;
    private volatile boolean keepAlive;

    UringTcpServerChannelConfig(UringTcpServerChannel channel) {
        super(channel);
        this.channel = channel;
    }

    @Override
    public Map<ChannelOption<?>, Object> getOptions() {
        return getOptions(super.getOptions(), ChannelOption.SO_BACKLOG, ChannelOption.SO_REUSEADDR, UnixChannelOption.SO_REUSEPORT,
                IoUringChannelOption.TCP_DEFER_ACCEPT, ChannelOption.SO_RCVBUF, ChannelOption.TCP_NODELAY, ChannelOption.SO_KEEPALIVE);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T getOption(ChannelOption<T> option) {
        if (option == ChannelOption.SO_BACKLOG) {
            return (T) Integer.valueOf(backlog);
        }
        if (option == ChannelOption.SO_REUSEADDR) {
            return (T) Boolean.valueOf(reuseAddress);
        }
        if (option == UnixChannelOption.SO_REUSEPORT) {
            return (T) Boolean.valueOf(reusePort);
        }
        if (option == IoUringChannelOption.TCP_DEFER_ACCEPT) {
            return (T) Integer.valueOf(deferAcceptSeconds);
        }
        if (option == ChannelOption.SO_RCVBUF) {
            return (T) Integer.valueOf(receiveBufferSize);
        }
        if (option == ChannelOption.TCP_NODELAY) {
            return (T) Boolean.valueOf(noDelay);
        }
        if (option == ChannelOption.SO_KEEPALIVE) {
            return (T) Boolean.valueOf(keepAlive);
        }
        return super.getOption(option);
    }

    @Override
    public <T> boolean setOption(ChannelOption<T> option, T value) {
        validate(option, value);
        boolean socketOption = option == ChannelOption.SO_BACKLOG || option == ChannelOption.SO_REUSEADDR
                || option == UnixChannelOption.SO_REUSEPORT || option == IoUringChannelOption.TCP_DEFER_ACCEPT
                || option == ChannelOption.SO_RCVBUF || option == ChannelOption.TCP_NODELAY || option == ChannelOption.SO_KEEPALIVE;
        if (!socketOption) {
            return super.setOption(option, value);
        }
        if (channel.fd() != null) {
            throw new IllegalStateException(option + " of a listener is set before its bind");
        }
        if (option == ChannelOption.SO_BACKLOG) {
            backlog = (Integer) value;
        } else if (option == ChannelOption.SO_REUSEADDR) {
            reuseAddress = (Boolean) value;
        } else if (option == UnixChannelOption.SO_REUSEPORT) {
            reusePort = (Boolean) value;
        } else if (option == IoUringChannelOption.TCP_DEFER_ACCEPT) {
            deferAcceptSeconds = (Integer) value;
        } else if (option == ChannelOption.SO_RCVBUF) {
            receiveBufferSize = (Integer) value;
        } else if (option == ChannelOption.TCP_NODELAY) {
            noDelay = (Boolean) value;
        } else {
            keepAlive = (Boolean) value;
        }
        return true;
    }

    int getBacklog() {
        return backlog;
    }

    boolean childNoDelay() {
        return noDelay;
    }

    boolean childKeepAlive() {
        return keepAlive;
    }

    /** IPPROTO_TCP and TCP_DEFER_ACCEPT (linux/tcp.h), which Netty's public socket sets only as a raw option. */
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_DEFER_ACCEPT = 9;

    /** Sets the options on the new listening socket, before its bind. */
    void applyTo(Socket socket) throws IOException {
        if (reuseAddress) {
            socket.setReuseAddress(true);
        }
        if (reusePort) {
            socket.setReusePort(true);
        }
        if (deferAcceptSeconds > 0) {
            socket.setIntOpt(IPPROTO_TCP, TCP_DEFER_ACCEPT, deferAcceptSeconds);
        }
        if (receiveBufferSize > 0) {
            socket.setReceiveBufferSize(receiveBufferSize);
        }
        if (noDelay) {
            socket.setTcpNoDelay(true);
        }
        if (keepAlive) {
            socket.setKeepAlive(true);
        }
    }

    @Override
    protected void autoReadCleared() {
        channel.autoReadCleared();
    }
}
