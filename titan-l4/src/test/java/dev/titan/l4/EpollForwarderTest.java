package dev.titan.l4;

import dev.titan.core.net.Transport;
import org.junit.jupiter.api.condition.EnabledIf;

/** Every forwarder test on the epoll transport (what production uses on Linux). */
@EnabledIf(value = "io.netty.channel.epoll.Epoll#isAvailable", disabledReason = "epoll is not available here")
class EpollForwarderTest extends ForwarderTestBase {
    @Override
    Transport.Kind kind() {
        return Transport.Kind.EPOLL;
    }
}
