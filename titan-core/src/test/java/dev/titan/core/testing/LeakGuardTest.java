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

    @Test
    void theMessageEndsWithTheTestAndTheLastAccess() throws Exception {
        leakOne();
        String message = LeakGuard.describe("someTest()", LeakGuard.collectLeaks());
        String tail = message.substring(message.lastIndexOf("leak(s) found after"));
        assertThat(tail).contains("someTest()").contains("the last hand it passed through");
    }

    private static void leakOne() {
        ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(128);
        b.writeInt(42); // never released
        b.touch("the last hand it passed through");
    }
}
