package dev.titan.tunnel;

import dev.titan.core.net.Transport;
import org.junit.jupiter.api.condition.EnabledIf;

/** Every tunnel test again on the io_uring transport. */
@EnabledIf(value = "io.netty.channel.uring.IoUring#isAvailable", disabledReason = "io_uring is not available here")
class IoUringTunnelTest extends TunnelTest {
    @Override
    Transport.Kind kind() {
        return Transport.Kind.IO_URING;
    }
}
