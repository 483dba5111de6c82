package io.migrator.core.plan;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.snapshot.Throttler;
import org.junit.jupiter.api.Test;

class ThrottlerTest {
    @Test
    void holdsTheCopyToItsRowBudget() throws Exception {
        Throttler throttler = new Throttler(1_000, 0, null);
        for (int i = 0; i < 10; i++) {
            throttler.rowsRead(100);
        }
        // 1,000 rows at 1,000 rows/s: about a second of waiting in all, less what the loop itself took.
        assertThat(throttler.waitedMillis()).isBetween(700L, 1_100L);
    }

    @Test
    void noLimitMeansNoWait() throws Exception {
        Throttler throttler = new Throttler(0, 0, null);
        throttler.rowsRead(1_000_000);
        throttler.beforeChunk();
        assertThat(throttler.waitedMillis()).isZero();
    }
}
