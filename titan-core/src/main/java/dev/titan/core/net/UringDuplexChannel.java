package dev.titan.core.net;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.UnixChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;

/**
 * The half-closing side of {@link UringTcpChannel}: each direction of the connection shut down with
 * the socket's own call, on the channel's loop, and its state as the socket knows it (plus the end
 * of input the channel saw). A relay uses {@link Transport#shutdownOutput} instead, which skips
 * the promise.
 */
abstract class UringDuplexChannel extends UringChannel implements DuplexChannel, UnixChannel {
    final UringSocket socket;
    /** False from the close on: the socket's descriptor is then closed or about to be. */
    boolean open = true;

    UringDuplexChannel(Channel parent, UringSocket socket) {
        super(parent);
        this.socket = socket;
    }

    /** True once the peer's end of input has been read. */
    abstract boolean inputEnded();

    /** The input was shut down: a receive waiting for bytes is not wanted any more. */
    abstract void inputShutDown();

    @Override
    public final boolean isOpen() {
        return open;
    }

    @Override
    public final FileDescriptor fd() {
        return socket;
    }

    @Override
    protected void doBind(SocketAddress localAddress) {
        throw new UnsupportedOperationException("binding is not supported by " + getClass().getSimpleName());
    }

    @Override
    protected void doShutdownOutput() throws IOException {
        socket.shutdown(false, true);
    }

    @Override
    public boolean isInputShutdown() {
        return inputEnded() || socket.isInputShutdown();
    }

    @Override
    public ChannelFuture shutdownInput() {
        return shutdownInput(newPromise());
    }

    @Override
    public ChannelFuture shutdownInput(ChannelPromise promise) {
        return onLoop(promise, () -> {
            socket.shutdown(true, false);
            inputShutDown();
        });
    }

    @Override
    public boolean isOutputShutdown() {
        return socket.isOutputShutdown();
    }

    @Override
    public ChannelFuture shutdownOutput() {
        return shutdownOutput(newPromise());
    }

    @Override
    public ChannelFuture shutdownOutput(ChannelPromise promise) {
        return onLoop(promise, () -> socket.shutdown(false, true));
    }

    @Override
    public boolean isShutdown() {
        return socket.isShutdown();
    }

    @Override
    public ChannelFuture shutdown() {
        return shutdown(newPromise());
    }

    @Override
    public ChannelFuture shutdown(ChannelPromise promise) {
        return onLoop(promise, () -> {
            socket.shutdown(true, true);
            inputShutDown();
        });
    }

    private interface IoAction {
        void run() throws IOException;
    }

    private ChannelFuture onLoop(ChannelPromise promise, IoAction action) {
        if (!eventLoop().inEventLoop()) {
            eventLoop().execute(() -> onLoop(promise, action));
            return promise;
        }
        if (!open) {
            return promise.setFailure(new ClosedChannelException());
        }
        try {
            action.run();
            return promise.setSuccess();
        } catch (IOException e) {
            return promise.setFailure(e);
        }
    }

    @Override
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) super.localAddress();
    }

    @Override
    public InetSocketAddress remoteAddress() {
        return (InetSocketAddress) super.remoteAddress();
    }
}
