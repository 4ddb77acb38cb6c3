package dev.titan.tunnel;

import dev.titan.core.net.Transport;
import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;

/** Every HTTP exposure test again on the epoll transport (what production uses on Linux). */
class EpollHttpExposureTest extends HttpExposureTest {
    @BeforeAll
    static void needsEpoll() {
        Assumptions.assumeTrue(Epoll.isAvailable(), "epoll is not available here");
    }

    @Override
    Transport.Kind kind() {
        return Transport.Kind.EPOLL;
    }
}
