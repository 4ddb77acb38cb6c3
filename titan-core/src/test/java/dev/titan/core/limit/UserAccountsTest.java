package dev.titan.core.limit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.titan.core.net.Relay;
import dev.titan.core.store.ConfigStore;
import dev.titan.core.store.Store;
import dev.titan.core.testing.FakeClock;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.LocalDate;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** A user's limits across its connections, on a fake clock and calendar. */
class UserAccountsTest {
    private final FakeClock clock = new FakeClock();
    private final AtomicReference<LocalDate> today = new AtomicReference<>(LocalDate.of(2026, 12, 4));

    private UserAccounts accounts(Store.Limits limits) {
        return new UserAccounts(new ConfigStore(List.of(new Store.User("u", "secret".getBytes(StandardCharsets.UTF_8), limits, null))),
                clock::nanos, today::get);
    }

    @Test
    void openConnectionsAreCountedUntilTheirChannelCloses() {
        UserAccounts a = accounts(new Store.Limits(2, 0, 0));
        EmbeddedChannel c1 = new EmbeddedChannel();
        EmbeddedChannel c2 = new EmbeddedChannel();
        assertThat(a.admit("u", c1)).isNull();
        assertThat(a.admit("u", c2)).isNull();
        assertThat(a.admit("u", new EmbeddedChannel())).startsWith("limit:").contains("2 connections open");
        c1.close();
        assertThat(a.open("u")).isEqualTo(1);
        assertThat(a.admit("u", new EmbeddedChannel())).isNull();
    }

    @Test
    void newConnectionsPerSecondAreAdmittedUpToTheRateAndNoFurther() {
        UserAccounts a = accounts(new Store.Limits(0, 0, 0, 5, 0, null));
        for (int i = 0; i < 5; i++) {
            assertThat(a.admit("u")).as("burst of one second's worth, #%d", i).isNull();
        }
        assertThat(a.admit("u")).startsWith("rate:");
        assertThat(a.admit("u")).as("a refusal takes nothing: still refused, not owed").startsWith("rate:");
        clock.advance(Duration.ofMillis(200));
        assertThat(a.admit("u")).as("one more after a fifth of a second").isNull();
        assertThat(a.admit("u")).startsWith("rate:");
    }

    @Test
    void aDailyQuotaClosesTheConnectionThatCrossesItAndStartsAfreshTheNextDay() {
        UserAccounts a = accounts(new Store.Limits(0, 0, 0, 0, 1000, Store.QuotaPeriod.DAY));
        EmbeddedChannel upstream = new EmbeddedChannel();
        assertThat(a.admit("u")).isNull();
        Relay.Accounting acc = a.accounting("u", upstream, null);
        acc.stats().bytesFromA(400);
        acc.stats().bytesFromB(500);
        assertThat(upstream.isOpen()).isTrue();
        acc.stats().bytesFromB(300); // 1,200: over
        assertThat(upstream.isOpen()).as("the read that crossed the quota closes its connection").isFalse();
        assertThat(a.admit("u")).startsWith("quota:").contains("this day");
        today.set(today.get().plusDays(1));
        assertThat(a.admit("u")).as("a new day, a new quota").isNull();
    }
}
