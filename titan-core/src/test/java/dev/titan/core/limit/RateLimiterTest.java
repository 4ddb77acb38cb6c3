package dev.titan.core.limit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateLimiterTest {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);

    @Test
    void aBurstGoesThroughThenEachByteCostsItsTime() {
        RateLimiter r = new RateLimiter(1_000_000, 100_000, now::get); // 1 MB/s, burst 100 kB = 100 ms
        assertThat(r.take(100_000)).as("the burst is free").isZero();
        assertThat(r.take(50_000)).as("50 kB past the burst: 50 ms").isEqualTo(50_000_000L);
        now.addAndGet(50_000_000L); // the reader waited as told
        assertThat(r.take(10_000)).as("10 kB more: 10 ms").isEqualTo(10_000_000L);
    }

    @Test
    void idleTimeRefillsUpToTheBurstOnly() {
        RateLimiter r = new RateLimiter(1_000_000, 100_000, now::get);
        r.take(300_000); // 200 ms in debt
        now.addAndGet(10_000_000_000L); // 10 s idle: the bucket is full, not 10 MB full
        assertThat(r.take(100_000)).isZero();
        assertThat(r.take(1_000)).isEqualTo(1_000_000L);
    }

    @Test
    void theAverageOverManyReadsIsTheRate() {
        RateLimiter r = new RateLimiter(2_000_000, 0, now::get);
        long start = now.get();
        for (int i = 0; i < 1000; i++) {
            now.addAndGet(r.take(16_384)); // a reader that always honours the pause
        }
        double seconds = (now.get() - start) / 1e9;
        assertThat(1000 * 16_384 / seconds).isBetween(1_990_000.0, 2_010_000.0);
    }

    @Test
    void ratesParseInBitsAndBytes() {
        assertThat(RateLimiter.parseRate("100mbit")).isEqualTo(12_500_000L);
        assertThat(RateLimiter.parseRate("1 Gbit/s")).isEqualTo(125_000_000L);
        assertThat(RateLimiter.parseRate("12.5MB/s")).isEqualTo(12_500_000L);
        assertThat(RateLimiter.parseRate("512KiB")).isEqualTo(524_288L);
        assertThatThrownBy(() -> RateLimiter.parseRate("fast")).hasMessageContaining("expected a rate");
        assertThatThrownBy(() -> RateLimiter.parseRate("10 furlongs")).hasMessageContaining("unknown unit");
    }

    @Test
    void sizesParseWithSiAndBinaryUnits() {
        org.assertj.core.api.Assertions.assertThat(RateLimiter.parseSize("10GB")).isEqualTo(10_000_000_000L);
        org.assertj.core.api.Assertions.assertThat(RateLimiter.parseSize("512MiB")).isEqualTo(512L << 20);
        org.assertj.core.api.Assertions.assertThat(RateLimiter.parseSize("1048576")).isEqualTo(1L << 20);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> RateLimiter.parseSize("10mbit")).hasMessageContaining("unknown unit 'mbit'");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> RateLimiter.parseSize("GB")).hasMessageContaining("expected a size");
    }
}
