package dev.titan.core.net;

import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.IoEvent;
import io.netty.channel.IoRegistration;
import io.netty.channel.ServerChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoEvent;
import io.netty.channel.uring.IoUringIoHandle;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * A listening TCP socket on io_uring whose connections are {@link UringTcpChannel}s. Netty's
 * io_uring listener makes five system calls for each connection it accepts (two getsockname to
 * learn the family, one for the local address, a getpeername, and TCP_NODELAY) and arms two polls
 * on it; this one makes one when the connection is made a channel (the family, which Netty's
 * socket asks for) and a getpeername when the remote address is first asked for, and gives the
 * connection its own address when bound to one. Accepted sockets take TCP_NODELAY and
 * SO_KEEPALIVE from this socket, as Linux copies a listener's flags to its connections.
 *
 * <p>The socket is made at the bind, of the bound address's family (an IPv4 listener gets an IPv4
 * socket); options set before apply then. Connections are accepted by one multishot accept in the
 * loop's ring, re-armed when the kernel ends it.
 */
public final class UringTcpServerChannel extends UringChannel implements ServerChannel {
    private static final short IORING_ACCEPT_MULTISHOT = 1;
    private static final int IORING_CQE_F_MORE = 1 << 1;
    private static final int SOCK_CLOEXEC = 02000000;

    private final UringTcpServerChannelConfig config = new UringTcpServerChannelConfig(this);
    private final Handle handle = new Handle();
    private UringSocket socket;
    private boolean open = true;
    private InetSocketAddress local;
    private long acceptId;

    public UringTcpServerChannel() {
        super(null);
    }

    @Override
    IoUringIoHandle handle() {
        return handle;
    }

    @Override
    protected void doBind(SocketAddress localAddress) throws IOException {
        InetSocketAddress at = (InetSocketAddress) localAddress;
        socket = new UringSocket(UringSocket.newStream(at.getAddress() instanceof Inet6Address));
        config.applyTo(socket);
        socket.bind(at);
        socket.listen(config.getBacklog());
        local = socket.localAddress();
    }

    @Override
    protected void doBeginRead() {
        if (acceptId == 0 && isActive()) {
            boolean multishot = IoUring.isAcceptMultishotEnabled();
            acceptId = socket.submit(registration, UringSocket.OP_ACCEPT, multishot ? IORING_ACCEPT_MULTISHOT : 0, 0L, 0L, 0, SOCK_CLOEXEC);
        }
    }

    private void accepted(int res, int flags) {
        if ((flags & IORING_CQE_F_MORE) == 0) {
            acceptId = 0; // the kernel ended it (or it was single-shot): armed again below if still reading
        }
        if (!open) {
            if (res >= 0) {
                closeFd(res);
            }
            return;
        }
        if (res >= 0) {
            UringTcpChannel child;
            try {
                child = new UringTcpChannel(this, res, config.childNoDelay(), config.childKeepAlive());
            } catch (RuntimeException e) {
                closeFd(res);
                pipeline().fireExceptionCaught(e);
                return;
            }
            pipeline().fireChannelRead(child);
            pipeline().fireChannelReadComplete();
        } else if (res != -UringSocket.ECANCELED) {
            // the bootstrap's acceptor then pauses accepting for a second (EMFILE and the like)
            pipeline().fireExceptionCaught(UringSocket.ioError("accept", res));
        }
        if (acceptId == 0 && open && config.isAutoRead()) {
            doBeginRead();
        }
    }

    /** Stops accepting while reading is off: connections wait in the kernel's queue. */
    void autoReadCleared() {
        if (!isRegistered()) {
            return; // nothing armed yet
        }
        if (!eventLoop().inEventLoop()) {
            eventLoop().execute(this::autoReadCleared);
            return;
        }
        if (acceptId != 0 && open) {
            UringSocket.cancel(registration, acceptId); // its completion says so; accepting resumes with reading
        }
    }

    private static void closeFd(int fd) {
        try {
            new FileDescriptor(fd).close();
        } catch (IOException e) {
            // a connection that was never handed over; nothing else holds it
        }
    }

    /** The loop's completions for this listener. */
    private final class Handle implements IoUringIoHandle {
        @Override
        public void handle(IoRegistration registration, IoEvent event) {
            IoUringIoEvent e = (IoUringIoEvent) event;
            if (e.opcode() == UringSocket.OP_ACCEPT) {
                accepted(e.res(), e.flags());
            }
        }

        @Override
        public void close() {
            if (open) {
                unsafe().close(voidPromise());
            }
        }
    }

    @Override
    protected void doClose() throws IOException {
        if (!open) {
            return;
        }
        open = false;
        if (socket == null) {
            return; // never bound: no socket was made
        }
        if (registration != null && registration.isValid()) {
            UringSocket.cancel(registration, acceptId);
        }
        socket.closeIn(registration);
    }

    @Override
    protected AbstractUnsafe newUnsafe() {
        return new AbstractUnsafe() {
            @Override
            public void connect(SocketAddress remote, SocketAddress localAddress, ChannelPromise promise) {
                promise.setFailure(new UnsupportedOperationException("a listener does not connect"));
            }
        };
    }

    @Override
    protected void doDisconnect() {
        throw new UnsupportedOperationException("a listener does not disconnect");
    }

    @Override
    protected void doWrite(ChannelOutboundBuffer in) {
        throw new UnsupportedOperationException("a listener does not write");
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public boolean isActive() {
        return open && local != null;
    }

    @Override
    public UringTcpServerChannelConfig config() {
        return config;
    }

    @Override
    protected SocketAddress localAddress0() {
        return local;
    }

    @Override
    protected SocketAddress remoteAddress0() {
        return null;
    }

    @Override
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) super.localAddress();
    }

    /** The listening socket (null until bound), for what a listener sets on it directly. */
    FileDescriptor fd() {
        return socket;
    }
}
