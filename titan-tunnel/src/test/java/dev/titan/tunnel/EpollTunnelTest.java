package dev.titan.tunnel;

import dev.titan.core.net.Transport;
import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/** Every tunnel test again on the epoll transport. */
class EpollTunnelTest extends TunnelTest {
    @BeforeAll
    static void needsEpoll() {
        Assumptions.assumeTrue(Epoll.isAvailable(), "epoll is not available here");
    }

    @Override
    Transport.Kind kind() {
        return Transport.Kind.EPOLL;
    }
}
