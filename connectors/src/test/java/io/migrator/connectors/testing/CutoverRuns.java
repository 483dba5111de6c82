package io.migrator.connectors.testing;

import io.migrator.core.spi.Worker;
import io.migrator.core.state.CutoverReport;
import java.time.Duration;

/** A cutover started on a worker in the test JVM, followed until its report says it finished (as `migrator cutover` does). */
public final class CutoverRuns {
    private CutoverRuns() {
    }

    public static CutoverReport run(Worker worker, boolean dryRun, Duration budget) throws InterruptedException {
        worker.startCutover(dryRun, budget);
        return awaitFinished(worker);
    }

    /**
     * Starts a cutover and cuts the network to the target (through {@code targetProxy}) as soon as its freeze step is done,
     * then follows it until it finished; the proxy passes connections again before this returns.
     */
    public static CutoverReport cutTargetAfterFreeze(Worker worker, FaultProxy targetProxy) throws InterruptedException {
        worker.startCutover(false, null);
        long deadline = System.currentTimeMillis() + 30_000;
        while (System.currentTimeMillis() < deadline) {
            CutoverReport now = worker.cutover().orElseThrow();
            if (now.finished() || now.steps().stream().anyMatch(s -> s.name().equals("freeze"))) {
                break;
            }
            Thread.sleep(2);
        }
        targetProxy.cut();
        long cut = System.nanoTime();
        try {
            CutoverReport report = awaitFinished(worker);
            // the abort waits at most 2 s for the target to journal it, not for the target's connection timeouts (~20 s)
            org.assertj.core.api.Assertions.assertThat((System.nanoTime() - cut) / 1_000_000).as("ms from the cut to the report: %s", report)
                    .isLessThan(12_000);
            return report;
        } finally {
            targetProxy.restore();
        }
    }

    public static CutoverReport awaitFinished(Worker worker) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline) {
            CutoverReport report = worker.cutover().orElseThrow();
            if (report.finished()) {
                return report;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the cutover did not finish: " + worker.cutover());
    }

    /** Until the migration's status shows {@code direction} ("reverse" once reverse replication streams), at most 30 s. */
    public static void awaitDirection(Worker migration, String direction) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 30_000;
        while (!direction.equals(migration.status().direction()) && System.currentTimeMillis() < deadline) {
            Thread.sleep(100);
        }
        org.assertj.core.api.Assertions.assertThat(migration.status().direction()).isEqualTo(direction);
    }

    /** Follows the rollback started on {@code migration} until its report says it finished, at most 60 s. */
    public static CutoverReport awaitRollback(Worker migration) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline) {
            var report = migration.rollback();
            if (report.isPresent() && report.get().finished()) {
                return report.get();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the rollback did not finish: " + migration.rollback());
    }
}
