package dev.titan.tunnel;

import dev.titan.core.net.Transport;
import org.junit.jupiter.api.condition.EnabledIf;

/** Every HTTP exposure test again on the epoll transport (what production uses on Linux). */
@EnabledIf(value = "io.netty.channel.epoll.Epoll#isAvailable", disabledReason = "epoll is not available here")
class EpollHttpExposureTest extends HttpExposureTest {
    @Override
    Transport.Kind kind() {
        return Transport.Kind.EPOLL;
    }
}
