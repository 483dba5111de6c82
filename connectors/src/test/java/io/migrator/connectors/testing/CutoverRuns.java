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
}
