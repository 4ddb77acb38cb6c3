package dev.titan.l4;

import dev.titan.core.net.Transport;
import org.junit.jupiter.api.condition.EnabledIf;

/** Every forwarder test on the io_uring transport (Linux 5.x and later; the one the benchmarks measured fastest). */
@EnabledIf(value = "io.netty.channel.uring.IoUring#isAvailable", disabledReason = "io_uring is not available here")
class IoUringForwarderTest extends ForwarderTestBase {
    @Override
    Transport.Kind kind() {
        return Transport.Kind.IO_URING;
    }
}
