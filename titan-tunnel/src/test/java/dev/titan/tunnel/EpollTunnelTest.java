package dev.titan.tunnel;

import dev.titan.core.net.Transport;
import org.junit.jupiter.api.condition.EnabledIf;

/** Every tunnel test again on the epoll transport (what production uses on Linux). */
@EnabledIf(value = "io.netty.channel.epoll.Epoll#isAvailable", disabledReason = "epoll is not available here")
class EpollTunnelTest extends TunnelTest {
    @Override
    Transport.Kind kind() {
        return Transport.Kind.EPOLL;
    }
}
