package dev.titan.core.testing;

import dev.titan.core.net.Transport;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import java.util.stream.Stream;

/** The transports socket tests run on: NIO always, epoll and io_uring where this kernel has them. */
public final class Transports {
    private Transports() {
    }

    public static Stream<Transport.Kind> available() {
        Stream.Builder<Transport.Kind> b = Stream.<Transport.Kind>builder().add(Transport.Kind.NIO);
        if (Epoll.isAvailable()) {
            b.add(Transport.Kind.EPOLL);
        }
        if (IoUring.isAvailable()) {
            b.add(Transport.Kind.IO_URING);
        }
        return b.build();
    }
}
