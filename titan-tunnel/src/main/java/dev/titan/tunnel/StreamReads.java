package dev.titan.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelConfig;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.util.UncheckedBooleanSupplier;

/**
 * Read policy of a tunnel stream channel: keep reading for as long as auto-read is on, so that
 * the stream's {@code channelReadComplete} (where the relay flushes) comes once per read of the
 * tunnel connection rather than once per DATA frame.
 *
 * <p>Netty's default handle stops "continuing" after 16 messages and, for frames delivered while a
 * stream read is in progress, is never reset; from then on every DATA frame completed a read and
 * the relay wrote each 16 KiB frame to the local socket with its own system call (iperf3 through
 * the tunnel measured about 2 Gbit/s). A stream channel allocates no buffers of its own (the
 * tunnel connection reads them), so only the continue decision matters here.
 */
final class StreamReads implements RecvByteBufAllocator {
    static final StreamReads INSTANCE = new StreamReads();

    private StreamReads() {
    }

    @Override
    public Handle newHandle() {
        return new StreamHandle();
    }

    private static final class StreamHandle implements ExtendedHandle {
        private ChannelConfig config;
        private int lastBytesRead;
        private int attemptedBytesRead;

        @Override
        public ByteBuf allocate(ByteBufAllocator alloc) {
            return alloc.ioBuffer(guess());
        }

        @Override
        public int guess() {
            return 1024;
        }

        @Override
        public void reset(ChannelConfig config) {
            this.config = config;
        }

        @Override
        public void incMessagesRead(int numMessages) {
        }

        @Override
        public void lastBytesRead(int bytes) {
            lastBytesRead = bytes;
        }

        @Override
        public int lastBytesRead() {
            return lastBytesRead;
        }

        @Override
        public void attemptedBytesRead(int bytes) {
            attemptedBytesRead = bytes;
        }

        @Override
        public int attemptedBytesRead() {
            return attemptedBytesRead;
        }

        @Override
        public boolean continueReading() {
            return config != null && config.isAutoRead();
        }

        @Override
        public boolean continueReading(UncheckedBooleanSupplier maybeMoreDataSupplier) {
            return continueReading();
        }

        @Override
        public void readComplete() {
        }
    }
}
