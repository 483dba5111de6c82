package io.migrator.core.cutover;

import io.migrator.core.error.MigratorException;
import io.migrator.core.spi.CutoverCheck;
import io.migrator.core.state.CutoverReport;
import io.migrator.core.state.MigrationStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A cutover's report as it runs: each step appended when it ends, read by the control API while the runbook goes on. */
public final class CutoverProgress {
    private static final Logger LOG = LoggerFactory.getLogger(CutoverProgress.class);

    private final String name;
    private final List<CutoverReport.Step> steps = new ArrayList<>();
    private boolean dryRun;
    private long budgetMillis;
    private String startedAt;
    private boolean finished;
    private boolean ok;
    private boolean aborted;
    private long freezeStartedNanos = -1;
    private long writeFreezeMillis;
    private MigrationStatus.Problem error;
    private final java.util.Map<String, Long> stepMillis = new java.util.LinkedHashMap<>();

    CutoverProgress(String name) {
        this.name = name;
    }

    synchronized void begin(boolean dryRun, Duration budget) {
        this.dryRun = dryRun;
        this.budgetMillis = budget.toMillis();
        this.startedAt = Instant.now().toString();
    }

    /** Runs one step and records it (its duration, and ok unless it threw); the step's result is its detail. */
    <T> T step(String step, Supplier<T> work) {
        long started = System.nanoTime();
        try {
            T result = work.get();
            add(new CutoverReport.Step(step, (System.nanoTime() - started) / 1_000_000, passed(result), detail(result)));
            return result;
        } catch (RuntimeException e) {
            add(new CutoverReport.Step(step, (System.nanoTime() - started) / 1_000_000, false, e.getMessage()));
            throw e;
        }
    }

    /** A step that ran outside {@link #step} (one that only some engines have), recorded as passed. */
    void stepDone(String step, long millis, String detail) {
        add(new CutoverReport.Step(step, millis, true, detail));
    }

    /** A step journaled on the target before and after it runs. */
    String journaled(String step, Consumer<String> journal, Supplier<String> work) {
        journal.accept("cutover: step " + step + " started");
        String detail = step(step, work);
        journal.accept("cutover: step " + step + " done");
        return detail;
    }

    private static boolean passed(Object result) {
        if (result instanceof List<?> checks) {
            return checks.stream().noneMatch(c -> c instanceof CutoverCheck check && !check.passed() && check.blocking());
        }
        return true;
    }

    private static String detail(Object result) {
        if (result instanceof List<?> checks) {
            List<String> lines = new ArrayList<>();
            for (Object o : checks) {
                if (o instanceof CutoverCheck c) {
                    lines.add((c.passed() ? "ok " : c.blocking() ? "FAILED " : "warning ") + c.name() + ": " + c.message()
                            + (c.passed() || c.remedy() == null ? "" : " (remedy: " + c.remedy() + ")"));
                }
            }
            return String.join("\n", lines);
        }
        return result == null ? "" : result.toString();
    }

    private synchronized void add(CutoverReport.Step step) {
        steps.add(step);
        stepMillis.merge(step.name(), step.millis(), Long::sum);
        LOG.info("cutover step {} {} in {} ms{}", step.name(), step.ok() ? "done" : "FAILED", step.millis(),
                step.detail() == null || step.detail().isEmpty() || step.detail().contains("\n") ? "" : ": " + step.detail());
    }

    /** Whether a step of this name ran (ok) in this report. */
    synchronized boolean ran(String step) {
        return steps.stream().anyMatch(s -> s.name().equals(step) && s.ok());
    }

    /** Whether a step of this name started in this report (it may have failed half done). */
    synchronized boolean attempted(String step) {
        return steps.stream().anyMatch(s -> s.name().equals(step));
    }

    synchronized void predicted(String step, long millis, String detail) {
        steps.add(new CutoverReport.Step(step, millis, true, "predicted: " + detail));
    }

    synchronized void freezeStarted(long nanos) {
        freezeStartedNanos = nanos;
    }

    /** Writes can go somewhere again (the target opened, or the source unfrozen): the freeze window ends. */
    synchronized void writesOpen() {
        if (freezeStartedNanos >= 0) {
            writeFreezeMillis = (System.nanoTime() - freezeStartedNanos) / 1_000_000;
        }
    }

    synchronized long writeFreezeMillis() {
        return writeFreezeMillis;
    }

    synchronized void finishOk() {
        finished = true;
        ok = true;
    }

    synchronized void finishDryRun(boolean fits, long predictedMillis, Duration budget) {
        finished = true;
        ok = fits;
        aborted = !fits;
        if (!fits) {
            error = new MigrationStatus.Problem("CUTOVER_PRECONDITION", "the steps are predicted to take " + predictedMillis + " ms, over the "
                    + budget.toMillis() + " ms budget", "lower the lag and the changes since the last validation (validate again), or raise "
                    + "cutover.maxDowntime");
        }
    }

    /** Refused before anything was frozen (a precondition, a missing capability). */
    synchronized void refused(MigratorException e) {
        finished = true;
        aborted = true;
        error = problem(e);
    }

    synchronized void aborted(MigratorException e) {
        finished = true;
        aborted = true;
        error = problem(e);
    }

    synchronized void failed(MigratorException e) {
        finished = true;
        ok = false;
        aborted = false;
        error = problem(e);
    }

    private static MigrationStatus.Problem problem(MigratorException e) {
        return new MigrationStatus.Problem(e.code().name(), e.getMessage(), e.remedy());
    }

    public synchronized boolean finished() {
        return finished;
    }

    /** Milliseconds by step name (the metric migrator_cutover_step_seconds). */
    public synchronized java.util.Map<String, Long> stepMillis() {
        return new java.util.LinkedHashMap<>(stepMillis);
    }

    public synchronized CutoverReport report() {
        return new CutoverReport(name, dryRun, finished, ok, aborted, writeFreezeMillis, budgetMillis, steps, error, startedAt);
    }
}
