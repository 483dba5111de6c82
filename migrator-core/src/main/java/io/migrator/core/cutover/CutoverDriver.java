package io.migrator.core.cutover;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.spi.CutoverSource;
import io.migrator.core.spi.CutoverTarget;
import io.migrator.core.state.CutoverReport;
import io.migrator.core.state.Phase;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * A worker's side of the cutover, the same for every engine: one cutover at a time on its own thread, the point of no
 * return followed through the journal (as it is written, and as a restart reads it back), a restart inside a cutover
 * undone or finished, a stopping worker waiting for the running cutover.
 */
public final class CutoverDriver {
    private static final Logger LOG = LoggerFactory.getLogger(CutoverDriver.class);

    private final Plan plan;
    private final Runbook runbook;
    private volatile CutoverProgress cutover;
    private volatile Thread thread;
    /** The journal went past the cutover's point of no return (read back on a restart, or set as it is written). */
    private volatile boolean pastNoReturn;
    private volatile String reverseFrom;

    public CutoverDriver(Plan plan, CutoverSource source, CutoverTarget target, Runbook.Host host) {
        this.plan = plan;
        this.runbook = new Runbook(plan, source, target, host);
    }

    /** A journal entry the target now holds (written, or read back on a restart): follows the point of no return. */
    public void journaled(String detail) {
        if (detail == null) {
            return;
        }
        if (detail.startsWith(Runbook.STARTED)) {
            pastNoReturn = false;
            reverseFrom = null; // each cutover records its own (or none: then no reverse replication, not an earlier one's)
        } else if (detail.startsWith(Runbook.REVERSE_FROM)) {
            reverseFrom = detail.substring(Runbook.REVERSE_FROM.length());
        } else if (Runbook.NO_RETURN.equals(detail)) {
            pastNoReturn = true;
        }
    }

    public boolean pastNoReturn() {
        return pastNoReturn;
    }

    /** Where reverse replication starts (the target's log position at the last cutover's fence), as the journal holds it. */
    public Optional<String> reverseFrom() {
        return Optional.ofNullable(reverseFrom);
    }

    /**
     * Starts the cutover on its own thread and answers with its report so far. A cutover already running is answered
     * with its report; one that failed after its point of no return goes on forward: from the switch when this worker
     * stopped the stream ({@code streamStopped}), else as after a restart.
     */
    public synchronized CutoverReport start(boolean dryRun, Duration maxDowntime, Phase phase, boolean streamStopped) {
        CutoverProgress running = cutover;
        if (running != null && !running.finished()) {
            if (running.report().dryRun() != dryRun) {
                throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "a " + (running.report().dryRun() ? "dry run" : "cutover")
                        + " of " + plan.name() + " is running", "wait until it finishes (`migrator status`), then run this one");
            }
            return running.report(); // the one running: its client follows it
        }
        Duration budget = maxDowntime != null ? maxDowntime : plan.cutover().maxDowntime();
        CutoverProgress progress = runbook.newProgress(dryRun, budget);
        cutover = progress;
        boolean forward = !dryRun && phase == Phase.CUTTING_OVER && pastNoReturn;
        startThread(() -> {
            if (forward && streamStopped) {
                runbook.finishForward(progress, System.nanoTime() + budget.toNanos()); // failed after the switch began, in this worker
            } else if (forward) {
                runbook.resumeForward(progress, budget); // after a restart past the point of no return: its stream runs again
            } else {
                runbook.run(progress, dryRun, budget);
            }
        });
        return progress.report();
    }

    /**
     * A worker restarted in CUTTING_OVER, before its stream starts again: a journal short of the point of no return undoes
     * the cutover here; one past it finishes on the cutover thread while the stream carries what the old source took
     * since (its freeze may have died with the worker), so it can be fenced again.
     */
    public void recover() {
        CutoverProgress progress;
        synchronized (this) {
            progress = runbook.newProgress(false, plan.cutover().maxDowntime());
            cutover = progress; // a cutover request meanwhile follows this one
        }
        if (!pastNoReturn) {
            runbook.undoAfterRestart(progress);
            return;
        }
        LOG.info("the cutover was interrupted past its point of no return: streaming what the old source took since, then finishing it");
        startThread(() -> runbook.resumeForward(progress, plan.cutover().maxDowntime()));
    }

    private void startThread(Runnable work) {
        Thread t = new Thread(() -> {
            MDC.put("migration", plan.name());
            try {
                work.run();
            } finally {
                MDC.remove("migration");
            }
        }, "cutover");
        t.setDaemon(true);
        thread = t;
        t.start();
    }

    /** A stopping worker lets a running cutover end first: before its point of no return it aborts (the stream stops). */
    public void await() {
        Thread t = thread;
        if (t == null || !t.isAlive()) {
            return;
        }
        LOG.info("waiting for the running cutover to finish before stopping");
        try {
            t.join(plan.cutover().maxDowntime().toMillis() + 30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public Optional<CutoverReport> report() {
        CutoverProgress c = cutover;
        return c == null ? Optional.empty() : Optional.of(c.report());
    }

    /** Step durations of the last cutover, for the metrics. */
    public Map<String, Long> stepMillis() {
        CutoverProgress c = cutover;
        return c == null ? Map.of() : c.stepMillis();
    }

    /** No cutover has run, or the last one finished (scheduled validations may start). */
    public boolean idle() {
        CutoverProgress c = cutover;
        return c == null || c.finished();
    }

    /** A real cutover (not a dry run) is running. */
    public boolean running() {
        CutoverProgress c = cutover;
        return c != null && !c.finished() && !c.report().dryRun();
    }
}
