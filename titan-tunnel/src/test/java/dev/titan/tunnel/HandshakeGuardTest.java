package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

/** The tunnel port's memory of refused handshakes: delays doubling per refusal in a row up to 30 s; a success forgets. */
class HandshakeGuardTest {
    private final HandshakeGuard guard = new HandshakeGuard();

    @Test
    void delaysDoubleUpTo30sAndASuccessForgets() throws Exception {
        InetAddress ip = InetAddress.getByName("192.0.2.1");
        assertThat(guard.blockedMillis(ip)).isZero();
        long[] expected = {250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000};
        for (long e : expected) {
            assertThat(guard.failed(ip)).isEqualTo(e);
        }
        assertThat(guard.blockedMillis(ip)).isBetween(29_000L, 30_000L);
        assertThat(guard.blockedMillis(InetAddress.getByName("192.0.2.2"))).as("per address").isZero();
        guard.succeeded(ip);
        assertThat(guard.blockedMillis(ip)).isZero();
        assertThat(guard.failed(ip)).as("a new streak starts again").isEqualTo(250);
    }

    @Test
    void atMostEightHandshakesPerAddressAtOnce() throws Exception {
        InetAddress ip = InetAddress.getByName("192.0.2.3");
        for (int i = 0; i < HandshakeGuard.MAX_CONCURRENT; i++) {
            assertThat(guard.startHandshake(ip)).isTrue();
        }
        assertThat(guard.startHandshake(ip)).isFalse();
        assertThat(guard.startHandshake(InetAddress.getByName("192.0.2.4"))).isTrue();
        guard.endHandshake(ip);
        assertThat(guard.startHandshake(ip)).isTrue();
    }
}
