package dev.titan.core.net;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Titan's I/O handler around Netty's, one per event loop: it knows the loop's registered channels,
 * so that {@link Transport#close} can close them while every loop still runs ({@link #closeAll}),
 * and it may adjust the interest a registration asks for ({@link KeepEpollRegistration} on epoll).
 *
 * <p>Closing the channels through Netty's {@link IoHandler#prepareToDestroy} instead, ahead of the
 * loop's own stop, held io_uring loops for seconds: that call queues a drained no-op behind every
 * operation in flight, the loop's pending timeouts included, and the loop's wake-up read waits
 * behind it. Netty still calls it once, when the loop stops.
 */
final class LoopIoHandler implements IoHandler {
    private static final Logger log = LoggerFactory.getLogger(LoopIoHandler.class);

    private final IoHandler delegate;
    private final UnaryOperator<IoOps> interest;
    private final Set<Registration> registrations = ConcurrentHashMap.newKeySet();
    /** When the set is swept of registrations that ended without a cancel through this handler. */
    private int sweepAt = 4096;

    LoopIoHandler(IoHandler delegate, UnaryOperator<IoOps> interest) {
        this.delegate = delegate;
        this.interest = interest;
    }

    /** Closes every channel registered with this loop; call on the loop. */
    void closeAll() {
        for (Registration r : List.copyOf(registrations)) {
            registrations.remove(r);
            if (r.isValid()) {
                try {
                    r.handle.close();
                } catch (Exception e) {
                    log.debug("closing {} failed", r.handle, e);
                }
            }
        }
    }

    @Override
    public void initialize() {
        delegate.initialize();
    }

    @Override
    public int run(IoHandlerContext context) {
        return delegate.run(context);
    }

    @Override
    public void prepareToDestroy() {
        delegate.prepareToDestroy();
    }

    @Override
    public void destroy() {
        registrations.clear();
        delegate.destroy();
    }

    @Override
    public IoRegistration register(IoHandle handle) throws Exception {
        Registration r = new Registration(delegate.register(handle), handle);
        registrations.add(r);
        if (registrations.size() >= sweepAt) {
            registrations.removeIf(x -> !x.isValid());
            sweepAt = Math.max(4096, registrations.size() * 2);
        }
        return r;
    }

    @Override
    public void wakeup() {
        delegate.wakeup();
    }

    @Override
    public boolean isCompatible(Class<? extends IoHandle> handleType) {
        return delegate.isCompatible(handleType);
    }

    private final class Registration implements IoRegistration {
        private final IoRegistration delegate;
        private final IoHandle handle;

        Registration(IoRegistration delegate, IoHandle handle) {
            this.delegate = delegate;
            this.handle = handle;
        }

        @Override
        public <T> T attachment() {
            return delegate.attachment();
        }

        @Override
        public long submit(IoOps ops) {
            return delegate.submit(interest.apply(ops));
        }

        @Override
        public boolean isValid() {
            return delegate.isValid();
        }

        @Override
        public boolean cancel() {
            registrations.remove(this);
            return delegate.cancel();
        }
    }
}
