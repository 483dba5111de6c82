package io.migrator.core.run;

import io.migrator.core.observe.History;
import io.migrator.core.plan.Plan;
import io.migrator.core.validate.ValidationReport;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What `migrator run` drives and the control server, metrics and dashboard read: one migration's worker. Row engines use
 * {@link Migration} (tables, chunks, the shared apply engine); key-value engines bring their own through
 * {@link io.migrator.core.spi.EngineConnector#worker}.
 */
public interface Worker {
    Plan plan();

    /** Runs until {@code stop} is set (returns normally) or a failure (throws, with the failure saved where status finds it). */
    void run(AtomicBoolean stop);

    MigrationStatus status();

    History history();

    Retry retry();

    void pause();

    void resume();

    boolean paused();

    /** The address the control server listens on, shown in status. */
    void servedAt(String listen);

    /** Parity while the stream runs, fenced by this worker's applied position; {@code repair} goes through its applier. */
    ValidationReport validate(List<String> patterns, boolean repair) throws InterruptedException;

    /** Failures that stopped the worker, by error code (metrics). */
    Map<String, Long> errorsByCode();

    /** Changes committed on the target. */
    long appliedEvents();

    /** Target transactions that committed changes with their checkpoint. */
    long appliedBatches();
}
