package io.migrator.core.run;

import io.migrator.core.state.Phase;
import io.migrator.core.state.ValidationReport;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * validation.every: while the migration streams, a validation starts in the background once the interval has passed since
 * the last one ended (never two at once; a validation asked for by `migrator validate` counts as one).
 */
final class ScheduledValidation {
    private static final Logger LOG = LoggerFactory.getLogger(ScheduledValidation.class);

    private final Migration worker;
    private final Duration every;
    private volatile long nextMillis;

    ScheduledValidation(Migration worker, Duration every) {
        this.worker = worker;
        this.every = every;
    }

    /** Called by the stream's supervising thread about ten times a second. */
    void maybeStart() {
        if (every.isZero() || worker.phase.get() != Phase.STREAMING || worker.validating.get() || System.currentTimeMillis() < nextMillis) {
            return;
        }
        nextMillis = Long.MAX_VALUE;
        Thread t = new Thread(() -> {
            MDC.put("migration", worker.plan.name());
            try {
                ValidationReport report = worker.validate(List.of(), false);
                LOG.info("scheduled validation: {} ({} rows, {} mismatches)", report.state(), report.rowsCompared(), report.mismatchCount());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                LOG.warn("scheduled validation failed: {}", e.getMessage());
            } finally {
                nextMillis = System.currentTimeMillis() + every.toMillis();
            }
        }, "scheduled-validation");
        t.setDaemon(true);
        t.start();
    }
}
