package dev.titan.core.net;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.IoRegistration;
import io.netty.channel.unix.Buffer;
import io.netty.channel.unix.Errors;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import io.netty.channel.uring.IoUringIoOps;
import java.io.IOException;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;

/**
 * The socket of Titan's io_uring channels ({@link UringTcpChannel}, {@link UringTcpServerChannel}):
 * Netty's socket on the descriptor for the calls it makes directly (options, shutdown, addresses;
 * making it asks the family once), and the operations the channels put in their loop's ring.
 */
final class UringSocket extends Socket {
    // io_uring operation codes (include/uapi/linux/io_uring.h)
    static final byte OP_WRITEV = 2;
    static final byte OP_ACCEPT = 13;
    static final byte OP_ASYNC_CANCEL = 14;
    static final byte OP_CONNECT = 16;
    static final byte OP_CLOSE = 19;
    static final byte OP_SEND = 26;
    static final byte OP_RECV = 27;
    static final int ECANCELED = 125;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;

    UringSocket(int fd) {
        super(fd);
    }

    /** A new TCP socket's descriptor: IPv6 (dual-stack) or IPv4. */
    static int newStream(boolean ipv6) {
        return newSocketStream0(ipv6);
    }

    /** Submits {@code op} on this socket to the ring; returns its id (for a cancel). */
    long submit(IoRegistration ring, byte op, short ioPrio, long union1, long address, int length, int opFlags) {
        return ring.submit(new IoUringIoOps(op, (byte) 0, ioPrio, intValue(), union1, address, length, opFlags,
                (short) 0, (short) 0, (short) 0, 0, 0L));
    }

    /** Asks the ring to cancel operation {@code id} (0: none); its completion then comes with -ECANCELED. */
    static void cancel(IoRegistration ring, long id) {
        if (id != 0) {
            ring.submit(new IoUringIoOps(OP_ASYNC_CANCEL, (byte) 0, (short) 0, -1, 0L, id, 0, 0, (short) 0, (short) 0, (short) 0, 0, 0L));
        }
    }

    /**
     * Closes the descriptor: in the ring behind the operations before it, or at once where it never
     * had a ring. The socket's own calls fail from now on.
     */
    void closeIn(IoRegistration ring) throws IOException {
        markClosed();
        if (ring == null || !ring.isValid()) {
            new FileDescriptor(intValue()).close();
        } else {
            submit(ring, OP_CLOSE, (short) 0, 0L, 0L, 0, 0);
        }
    }

    /** {@code target} as a struct sockaddr_in or sockaddr_in6, in a direct buffer of that size. */
    static ByteBuf sockaddr(ByteBufAllocator alloc, InetSocketAddress target) {
        byte[] ip = target.getAddress().getAddress();
        boolean v6 = ip.length == 16;
        ByteBuf b = alloc.directBuffer(v6 ? 28 : 16).writeZero(v6 ? 28 : 16);
        b.setShortLE(0, v6 ? AF_INET6 : AF_INET);
        b.setShort(2, target.getPort()); // network order
        if (v6) {
            b.setBytes(8, ip);
            b.setIntLE(24, ((Inet6Address) target.getAddress()).getScopeId());
        } else {
            b.setBytes(4, ip);
        }
        return b;
    }

    /** Where {@code length} bytes of {@code buf} from {@code index} are, for the kernel. */
    static long address(ByteBuf buf, int index, int length) {
        if (buf.hasMemoryAddress()) {
            return buf.memoryAddress() + index;
        }
        ByteBuffer nio = buf.internalNioBuffer(index, length);
        return Buffer.memoryAddress(nio) + nio.position();
    }

    /** The error of a failed {@code call} the ring answered with {@code res}, without a Java stack (none caused it). */
    static IOException ioError(String call, int res) {
        IOException e = Errors.newIOException(call, res);
        e.setStackTrace(new StackTraceElement[0]);
        return e;
    }

    /** A failed connect to {@code target} as Netty's channels name it (ConnectException, NoRouteToHostException), with the target. */
    static Throwable connectFailure(int res, InetSocketAddress target) {
        if (res == -ECANCELED) {
            return new ClosedChannelException();
        }
        try {
            Errors.throwConnectException("connect", res);
            return ioError("connect", res);
        } catch (IOException e) {
            String message = e.getMessage() + ": " + target;
            Throwable named = e instanceof NoRouteToHostException ? new NoRouteToHostException(message)
                    : e instanceof ConnectException ? new ConnectException(message) : e;
            named.setStackTrace(new StackTraceElement[0]);
            return named;
        }
    }
}
