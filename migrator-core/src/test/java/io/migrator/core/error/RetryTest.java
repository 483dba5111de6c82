package io.migrator.core.error;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Retries as a time budget: an outage is ridden out, shown while it lasts, and given up with its length when it lasts too long. */
class RetryTest {
    private static RetriableException lost() {
        return new RetriableException(ErrorCode.CANNOT_CONNECT, "lost the connection", "check the server", null);
    }

    @Test
    void anOutageShorterThanTheBudgetIsRiddenOutAndShownWhileItLasts() {
        Retry retry = new Retry(Duration.ofSeconds(30), Duration.ofMillis(1));
        AtomicInteger attempts = new AtomicInteger();
        String result = retry.call("applying", () -> {
            if (attempts.incrementAndGet() < 12) { // more than the ten attempts the old policy allowed
                assertThat(attempts.get() == 1 || retry.outage() != null).as("shown while it lasts").isTrue();
                throw lost();
            }
            return "done";
        });
        assertThat(result).isEqualTo("done");
        assertThat(retry.outage()).as("over once something succeeded").isNull();
        assertThat(retry.retries()).isEqualTo(11);
        assertThat(retry.retriesByKind()).containsEntry("cannot_connect", 11L);
    }

    @Test
    void anOutageLongerThanTheBudgetIsGivenUpWithItsLengthAndTheSetting() {
        Retry retry = new Retry(Duration.ofMillis(300), Duration.ofMillis(50));
        assertThatThrownBy(() -> retry.call("applying", () -> {
            throw lost();
        })).isInstanceOf(MigratorException.class).isNotInstanceOf(RetriableException.class)
                .hasMessageContaining("lost the connection").hasMessageContaining("network.maxOutage 0 s");
        assertThat(retry.outage()).isNull();
    }

    @Test
    void theRetentionHeadroomEndsAnOutageEarly() {
        Retry retry = new Retry(() -> Duration.ofHours(1), Duration.ofMillis(10), () -> 30.0);
        assertThatThrownBy(() -> retry.call("applying", () -> {
            throw lost();
        })).hasMessageContaining("the source may purge the log the migration needs within 30 s");
    }

    @Test
    void anOperationKeepsItsOwnStartWhileOthersSucceed() throws InterruptedException {
        Retry retry = new Retry(Duration.ofMillis(400), Duration.ofMillis(50));
        java.time.Instant started = java.time.Instant.now();
        long waited = 0;
        try {
            while (waited < 5_000) {
                retry.recovered(); // another operation succeeds in between: the outage as status shows it ends
                Thread.sleep(retry.failed("the change stream", lost(), 50, started));
                waited += 50;
            }
        } catch (MigratorException e) {
            assertThat(e.getMessage()).contains("network.maxOutage");
        }
        assertThat(waited).as("given up on its own start, not renewed by the others").isLessThan(1_000);
    }
}
