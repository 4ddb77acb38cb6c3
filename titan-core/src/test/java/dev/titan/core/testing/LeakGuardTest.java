package dev.titan.core.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

/** The leak guard must see a leak, or every "no leak" verdict means nothing. */
class LeakGuardTest {
    @Test
    void aDroppedBufferIsReported() throws Exception {
        leakOne();
        assertThat(LeakGuard.collectLeaks()).as("leak reports").isNotEmpty();
    }

    private static void leakOne() {
        ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(128);
        b.writeInt(42); // never released
    }
}
