package io.migrator.core.spi;

import io.migrator.core.error.Retry;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.History;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.ValidationReport;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What `migrator run` drives and the control server, metrics and dashboard read: one migration's worker. Row engines use
 * core's migration (tables, chunks, the stream player); engines that move data their own way bring theirs through
 * {@link EnginePipeline.OwnWorker}.
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

    /**
     * Waits until the target applied past a source position (the cutover's drain, validation's recheck): the worker's
     * stream player. Engines whose worker cannot tell yet refuse.
     */
    default Fence fence() {
        throw CutoverSeams.notYet("waiting for an applied position in " + getClass().getSimpleName());
    }

    /**
     * Starts the cutover runbook on this worker (it owns the stream and the fence) and answers at once with the report so
     * far; {@link #cutover()} follows it. A cutover already running is answered with its report.
     */
    default io.migrator.core.state.CutoverReport startCutover(boolean dryRun, java.time.Duration maxDowntime) {
        throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.CUTOVER_PRECONDITION, "the cutover of a "
                + plan().source().engine() + " migration is not in this build: nothing was frozen or changed",
                "cut over with the engine's own tools meanwhile: freeze writes, wait until `migrator status` shows lag 0, switch the "
                        + "application, then `migrator complete`");
    }

    /** The running or last cutover of this worker's life, with its steps so far. */
    default java.util.Optional<io.migrator.core.state.CutoverReport> cutover() {
        return java.util.Optional.empty();
    }

    /**
     * Starts the rollback (the cutover runbook of the reverse direction: the new server frozen, reverse replication drained
     * to its fence, traffic switched back, the old source opened) and answers at once; {@link #rollback()} follows it.
     */
    default io.migrator.core.state.CutoverReport startRollback(boolean dryRun, java.time.Duration maxDowntime) {
        throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.CUTOVER_PRECONDITION, "the rollback of a "
                + plan().source().engine() + " migration is not in this build: nothing was frozen or changed",
                "go back with the engine's own tools: freeze writes on the new server, copy its changes back, switch the application");
    }

    /** The running or last rollback of this worker's life. */
    default java.util.Optional<io.migrator.core.state.CutoverReport> rollback() {
        return java.util.Optional.empty();
    }
}
