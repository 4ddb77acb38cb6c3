package dev.titan.core.net;

import io.netty.buffer.ByteBuf;
import io.netty.channel.AbstractChannel;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.IoEvent;
import io.netty.channel.IoRegistration;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.unix.IovArray;
import io.netty.channel.unix.Socket;
import io.netty.channel.uring.IoUringIoEvent;
import io.netty.channel.uring.IoUringIoHandle;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.AlreadyConnectedException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ConnectionPendingException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A TCP connection on io_uring, dialled or accepted, that makes no system call it does not need.
 * Netty's io_uring channel makes seven for each connection it dials (the socket, IPV6_V6ONLY, as
 * its sockets are always dual-stack, a getsockname to learn the family, TCP_NODELAY, the keepalive
 * Titan asks for, a getsockname and a getpeername once connected) and five for each it accepts
 * (three getsockname, a getpeername, TCP_NODELAY), and arms two polls per socket (one to see the
 * peer's FIN while not reading) that it cancels at the close. Measured through the overlay, each
 * such system call cost about 0.6 µs, 0.5% of a new connection's CPU.
 *
 * <p>This channel dials with a socket of the target's family and sets only the options asked for;
 * besides them it makes one getsockname (Netty's {@link Socket} learns the family) per connection,
 * and a getpeername when an accepted connection's remote address is first asked for. The remote
 * address of a dialled connection is the one it dialled; the local address of an accepted one is
 * its listener's when that is bound to one address. Its I/O is one operation of each kind at a
 * time in the loop's ring: a receive when reading is wanted, a send (or writev) of what is
 * flushed, the connect, and the close. Half-closure is the relay's: the end of the input is an
 * event, and the output is shut down with the socket's own call ({@link Transport#shutdownOutput}).
 *
 * <p>An operation in flight holds its memory until its completion arrives, even after the close
 * (the close cancels it first): a receive writes into its buffer until then, and a close waits for
 * a send in flight, which reads from the outbound buffer.
 */
final class UringTcpChannel extends UringDuplexChannel {
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int IOV_MAX = 1024;
    /** Most bytes one writev takes; Netty's limit for the same call. */
    private static final long MAX_WRITEV_BYTES = Integer.MAX_VALUE;

    private final UringTcpChannelConfig config;
    private final Handle handle = new Handle();
    private boolean active;
    private boolean inputEnded;
    private InetSocketAddress remote;

    private long readId;
    private ByteBuf readBuf;
    private boolean readWanted;
    /** Inside {@link #readDone}: a read asked for by a handler is submitted at its end. */
    private boolean inReadDone;
    private long writeId;
    /** The iovecs of the writev in flight, if one is. */
    private ByteBuf iovMemory;
    private long connectId;
    private ByteBuf connectAddress;
    private ChannelPromise connectPromise;
    private ScheduledFuture<?> connectTimeout;
    /** A close waiting for the send in flight to come back (its bytes are still being read). */
    private ChannelPromise closeAfterWrite;
    /** Inside {@link #writeDone}, taking the sent bytes off the outbound buffer. */
    private boolean removing;

    /** A new unconnected socket of {@code target}'s family (an IPv4 socket for an IPv4 address). */
    UringTcpChannel(InetSocketAddress target) {
        super(null, new UringSocket(UringSocket.newStream(target.getAddress() instanceof Inet6Address)));
        this.config = new UringTcpChannelConfig(this, socket, false, false);
    }

    /** A connection {@code parent} accepted, with the TCP_NODELAY and SO_KEEPALIVE it took from the listening socket. */
    UringTcpChannel(UringTcpServerChannel parent, int fd, boolean noDelay, boolean keepAlive) {
        super(parent, new UringSocket(fd));
        this.config = new UringTcpChannelConfig(this, socket, noDelay, keepAlive);
        this.active = true;
    }

    // ---- registration

    @Override
    IoUringIoHandle handle() {
        return handle;
    }

    private long submit(byte op, long union1, long address, int length, int opFlags) {
        return socket.submit(registration, op, (short) 0, union1, address, length, opFlags);
    }

    private void cancel(long id) {
        UringSocket.cancel(registration, id);
    }

    /** The loop's completions for this channel. */
    private final class Handle implements IoUringIoHandle {
        @Override
        public void handle(IoRegistration registration, IoEvent event) {
            IoUringIoEvent e = (IoUringIoEvent) event;
            switch (e.opcode()) {
                case UringSocket.OP_RECV -> readDone(e.res());
                case UringSocket.OP_SEND, UringSocket.OP_WRITEV -> writeDone(e.res());
                case UringSocket.OP_CONNECT -> connectDone(e.res());
                default -> { } // the close and the cancels: nothing waits for them
            }
        }

        @Override
        public void close() {
            if (open) {
                unsafe().close(voidPromise());
            }
        }
    }

    // ---- connect

    @Override
    protected AbstractUnsafe newUnsafe() {
        return new TcpUnsafe();
    }

    private final class TcpUnsafe extends AbstractUnsafe {
        @Override
        public void connect(SocketAddress remoteAddress, SocketAddress localAddress, ChannelPromise promise) {
            if (!promise.setUncancellable() || !ensureOpen(promise)) {
                return;
            }
            if (connectPromise != null) {
                promise.setFailure(new ConnectionPendingException());
                return;
            }
            if (active) {
                promise.setFailure(new AlreadyConnectedException());
                return;
            }
            if (localAddress != null) {
                promise.setFailure(new UnsupportedOperationException("a local address to bind is not supported by UringTcpChannel"));
                return;
            }
            InetSocketAddress target = (InetSocketAddress) remoteAddress;
            connectAddress = UringSocket.sockaddr(alloc(), target);
            connectPromise = promise;
            remote = target;
            int length = connectAddress.readableBytes();
            connectId = submit(UringSocket.OP_CONNECT, length, UringSocket.address(connectAddress, 0, length), 0, 0);
            int millis = config.getConnectTimeoutMillis();
            if (millis > 0) {
                connectTimeout = eventLoop().schedule(() -> {
                    ChannelPromise p = connectPromise;
                    if (p != null && p.tryFailure(new ConnectTimeoutException("connection timed out after " + millis + " ms: " + target))) {
                        close(voidPromise());
                    }
                }, millis, TimeUnit.MILLISECONDS);
            }
        }

        @Override
        public void close(ChannelPromise promise) {
            if (writeId != 0 && open) { // the send in flight still reads its bytes from the outbound buffer
                if (closeAfterWrite == null) {
                    closeAfterWrite = promise;
                    if (!removing) {
                        cancel(writeId);
                    }
                } else {
                    closeFuture().addListener(f -> super.close(promise)); // already closed then: completes the promise
                }
                return;
            }
            super.close(promise);
        }
    }

    private void connectDone(int res) {
        connectId = 0;
        connectAddress.release();
        connectAddress = null;
        if (connectTimeout != null) {
            connectTimeout.cancel(false);
            connectTimeout = null;
        }
        ChannelPromise p = connectPromise;
        connectPromise = null;
        if (p == null || p.isDone() || !open) {
            return; // timed out or closed meanwhile: the close has been or is being done
        }
        if (res < 0) {
            p.tryFailure(UringSocket.connectFailure(res, remote));
            unsafe().close(voidPromise());
            return;
        }
        active = true;
        boolean ok = p.trySuccess();
        pipeline().fireChannelActive();
        if (!ok) {
            unsafe().close(voidPromise());
        }
    }

    // ---- read

    @Override
    protected void doBeginRead() {
        readWanted = true;
        if (readId == 0 && active && !inputEnded && !inReadDone) {
            submitRead();
        }
    }

    private void submitRead() {
        RecvByteBufAllocator.Handle h = unsafe().recvBufAllocHandle();
        h.reset(config);
        ByteBuf buf = h.allocate(alloc());
        if (!buf.isDirect()) { // a heap allocator: the kernel needs memory that does not move
            int size = buf.writableBytes();
            buf.release();
            buf = alloc().directBuffer(size);
        }
        readBuf = buf;
        readWanted = false;
        readId = submit(UringSocket.OP_RECV, 0L, UringSocket.address(buf, buf.writerIndex(), buf.writableBytes()), buf.writableBytes(), 0);
    }

    private void readDone(int res) {
        readId = 0;
        ByteBuf buf = readBuf;
        readBuf = null;
        if (!open) {
            buf.release();
            return;
        }
        RecvByteBufAllocator.Handle h = unsafe().recvBufAllocHandle();
        if (res > 0) {
            buf.writerIndex(buf.writerIndex() + res);
            h.lastBytesRead(res);
            h.incMessagesRead(1);
            inReadDone = true;
            try {
                pipeline().fireChannelRead(buf);
                h.readComplete();
                pipeline().fireChannelReadComplete();
            } finally {
                inReadDone = false;
            }
            if (open && readId == 0 && !inputEnded && (readWanted || config.isAutoRead())) {
                submitRead();
            }
            return;
        }
        buf.release();
        if (res == 0) {
            inputEnded = true;
            h.readComplete();
            pipeline().fireChannelReadComplete();
            if (config.isAllowHalfClosure()) {
                pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
                pipeline().fireUserEventTriggered(ChannelInputShutdownReadComplete.INSTANCE);
            } else {
                unsafe().close(voidPromise());
            }
        } else if (res != -UringSocket.ECANCELED) {
            pipeline().fireExceptionCaught(UringSocket.ioError("recv", res));
            unsafe().close(voidPromise());
        }
    }

    // ---- write

    @Override
    protected Object filterOutboundMessage(Object msg) {
        if (msg instanceof ByteBuf buf) {
            if (buf.isDirect()) {
                return buf;
            }
            ByteBuf direct = alloc().directBuffer(buf.readableBytes());
            direct.writeBytes(buf, buf.readerIndex(), buf.readableBytes());
            buf.release();
            return direct;
        }
        throw new UnsupportedOperationException("a TCP connection writes bytes, not " + msg.getClass().getSimpleName());
    }

    @Override
    protected void doWrite(ChannelOutboundBuffer in) {
        if (writeId == 0 && closeAfterWrite == null) {
            submitWrite(in);
        }
    }

    private void submitWrite(ChannelOutboundBuffer in) {
        for (Object msg; (msg = in.current()) != null; ) {
            ByteBuf buf = (ByteBuf) msg;
            if (buf.readableBytes() == 0) {
                in.remove(); // an empty write completes once everything before it is out
                continue;
            }
            if (in.size() == 1 && buf.nioBufferCount() == 1) {
                int length = buf.readableBytes();
                writeId = submit(UringSocket.OP_SEND, 0L, UringSocket.address(buf, buf.readerIndex(), length), length, MSG_NOSIGNAL);
                return;
            }
            // the iovecs live until the writev completes; sized for the flushed buffers (IOV_MAX at most:
            // a writev takes what fits, the next one the rest)
            iovMemory = alloc().directBuffer(IovArray.IOV_SIZE * Math.min(in.size(), IOV_MAX));
            IovArray iov = new IovArray(iovMemory);
            iov.maxBytes(MAX_WRITEV_BYTES);
            try {
                in.forEachFlushedMessage(iov);
            } catch (Exception e) {
                throw new IllegalStateException(e); // IovArray's processor throws nothing
            }
            writeId = submit(UringSocket.OP_WRITEV, 0L, iov.memoryAddress(0), iov.count(), 0);
            return;
        }
    }

    private void writeDone(int res) {
        if (iovMemory != null) {
            iovMemory.release();
            iovMemory = null;
        }
        ChannelOutboundBuffer in = unsafe().outboundBuffer();
        if (res > 0 && in != null) {
            // the send counts as in flight until its bytes are off the buffer: a close that a written
            // message's listener asks for meanwhile waits (below), or it would empty the buffer under us
            removing = true;
            try {
                in.removeBytes(res);
            } finally {
                removing = false;
            }
        }
        writeId = 0;
        if (closeAfterWrite != null) {
            ChannelPromise p = closeAfterWrite;
            closeAfterWrite = null;
            unsafe().close(p);
            return;
        }
        if (in == null || !open) {
            return;
        }
        if (res < 0) {
            unsafe().close(voidPromise()); // fails what waits to be written; Netty does not report write errors to the pipeline either
            return;
        }
        if (!in.isEmpty()) {
            submitWrite(in);
        }
    }

    // ---- close

    @Override
    boolean inputEnded() {
        return inputEnded;
    }

    @Override
    void inputShutDown() {
        cancel(readId);
    }

    @Override
    protected void doClose() throws IOException {
        active = false;
        if (!open) {
            return;
        }
        open = false;
        if (connectPromise != null) {
            connectPromise.tryFailure(new ClosedChannelException());
        }
        if (connectTimeout != null) {
            connectTimeout.cancel(false);
        }
        if (registration != null) {
            cancel(readId); // its completion frees the buffer
            cancel(connectId);
            cancel(writeId); // only a forced close gets here with a send in flight (a close waits for it)
        }
        socket.closeIn(registration); // never registered: nothing was in flight, closed at once
    }

    @Override
    protected void doDisconnect() throws IOException {
        doClose();
    }

    // ---- state

    @Override
    public boolean isActive() {
        return open && active;
    }

    @Override
    public UringTcpChannelConfig config() {
        return config;
    }

    @Override
    protected SocketAddress localAddress0() {
        if (!open || !active) {
            return null;
        }
        // a connection accepted by a listener bound to one address has that address: no need to ask
        if (parent() instanceof UringTcpServerChannel listener && !listener.localAddress().getAddress().isAnyLocalAddress()) {
            return listener.localAddress();
        }
        return socket.localAddress(); // asked for when first wanted (AbstractChannel keeps it)
    }

    @Override
    protected SocketAddress remoteAddress0() {
        if (remote == null && open && active) {
            remote = socket.remoteAddress(); // an accepted connection's: asked for when first wanted
        }
        return remote;
    }
}
