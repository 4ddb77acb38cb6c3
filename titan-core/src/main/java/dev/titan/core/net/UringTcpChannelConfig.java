package dev.titan.core.net;

import io.netty.channel.ChannelException;
import io.netty.channel.ChannelOption;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.util.Map;

/**
 * The options of a {@link UringTcpChannel}: Netty's common ones, half-closure, and the socket
 * options Titan sets on a connection (TCP_NODELAY, SO_KEEPALIVE, SO_LINGER, the buffer sizes),
 * each set on the socket when asked for (none by default: unlike Netty's channel, this one does not
 * turn TCP_NODELAY on by itself). TCP_NODELAY and SO_KEEPALIVE read back what was set, without a
 * system call.
 */
final class UringTcpChannelConfig extends DefaultChannelConfig {
    private final Socket socket;
    private volatile boolean allowHalfClosure;
    /** What the socket has, kept here: reading them asks the kernel nothing. */
    private volatile boolean noDelay;
    private volatile boolean keepAlive;

    /** {@code noDelay} and {@code keepAlive}: what the socket has now (off on a new one, the listener's on an accepted one). */
    UringTcpChannelConfig(UringTcpChannel channel, Socket socket, boolean noDelay, boolean keepAlive) {
        super(channel);
        this.socket = socket;
        this.noDelay = noDelay;
        this.keepAlive = keepAlive;
    }

    @Override
    public Map<ChannelOption<?>, Object> getOptions() {
        return getOptions(super.getOptions(), ChannelOption.ALLOW_HALF_CLOSURE, ChannelOption.TCP_NODELAY, ChannelOption.SO_KEEPALIVE,
                ChannelOption.SO_LINGER, ChannelOption.SO_RCVBUF, ChannelOption.SO_SNDBUF);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T getOption(ChannelOption<T> option) {
        try {
            if (option == ChannelOption.ALLOW_HALF_CLOSURE) {
                return (T) Boolean.valueOf(allowHalfClosure);
            }
            if (option == ChannelOption.TCP_NODELAY) {
                return (T) Boolean.valueOf(noDelay);
            }
            if (option == ChannelOption.SO_KEEPALIVE) {
                return (T) Boolean.valueOf(keepAlive);
            }
            if (option == ChannelOption.SO_LINGER) {
                return (T) Integer.valueOf(socket.getSoLinger());
            }
            if (option == ChannelOption.SO_RCVBUF) {
                return (T) Integer.valueOf(socket.getReceiveBufferSize());
            }
            if (option == ChannelOption.SO_SNDBUF) {
                return (T) Integer.valueOf(socket.getSendBufferSize());
            }
        } catch (IOException e) {
            throw new ChannelException(e);
        }
        return super.getOption(option);
    }

    @Override
    public <T> boolean setOption(ChannelOption<T> option, T value) {
        validate(option, value);
        try {
            if (option == ChannelOption.ALLOW_HALF_CLOSURE) {
                allowHalfClosure = (Boolean) value;
            } else if (option == ChannelOption.TCP_NODELAY) {
                socket.setTcpNoDelay((Boolean) value);
                noDelay = (Boolean) value;
            } else if (option == ChannelOption.SO_KEEPALIVE) {
                socket.setKeepAlive((Boolean) value);
                keepAlive = (Boolean) value;
            } else if (option == ChannelOption.SO_LINGER) {
                socket.setSoLinger((Integer) value);
            } else if (option == ChannelOption.SO_RCVBUF) {
                socket.setReceiveBufferSize((Integer) value);
            } else if (option == ChannelOption.SO_SNDBUF) {
                socket.setSendBufferSize((Integer) value);
            } else {
                return super.setOption(option, value);
            }
        } catch (IOException e) {
            throw new ChannelException(e);
        }
        return true;
    }

    boolean isAllowHalfClosure() {
        return allowHalfClosure;
    }
}
