package dev.titan.l4;

import dev.titan.core.net.Transport;

class NioForwarderTest extends ForwarderTestBase {
    @Override
    Transport.Kind kind() {
        return Transport.Kind.NIO;
    }
}
