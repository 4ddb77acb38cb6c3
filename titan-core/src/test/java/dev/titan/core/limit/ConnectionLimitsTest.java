package dev.titan.core.limit;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

class ConnectionLimitsTest {
    @Test
    void aKeyAtItsLimitAdmitsNoMoreUntilOneCloses() {
        ConnectionLimits<String> limits = new ConnectionLimits<>();
        EmbeddedChannel a = new EmbeddedChannel();
        EmbeddedChannel b = new EmbeddedChannel();
        assertThat(limits.admit("ip", 2, a)).isTrue();
        assertThat(limits.admit("ip", 2, b)).isTrue();
        assertThat(limits.admit("ip", 2, new EmbeddedChannel())).as("the third").isFalse();
        assertThat(limits.admit("other", 2, new EmbeddedChannel())).as("another key has its own count").isTrue();
        a.close();
        assertThat(limits.open("ip")).isEqualTo(1);
        assertThat(limits.admit("ip", 2, new EmbeddedChannel())).as("a closed connection frees its place").isTrue();
    }

    @Test
    void aKeyWithNothingOpenIsForgotten() {
        ConnectionLimits<String> limits = new ConnectionLimits<>();
        EmbeddedChannel a = new EmbeddedChannel();
        limits.admit("ip", 0, a);
        assertThat(limits.keys()).isEqualTo(1);
        a.close();
        assertThat(limits.keys()).as("no memory is kept for a key with no connection").isZero();
        assertThat(limits.tryAcquire("ip", 1)).isTrue();
        assertThat(limits.tryAcquire("ip", 1)).isFalse();
        limits.release("ip");
        assertThat(limits.open("ip")).isZero();
    }
}
