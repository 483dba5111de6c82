package io.migrator.core.run;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.error.Retry;
import io.migrator.core.plan.Plan;
import io.migrator.core.spi.Worker;
import io.migrator.core.state.History;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every worker keeps the same way, whatever the engine: the phase, pause and resume, the control address, the
 * dashboard's history, the phase journal shown in status, and the failures counted by error code.
 */
public abstract class AbstractWorker implements Worker {
    private static final Logger LOG = LoggerFactory.getLogger(AbstractWorker.class);

    protected final Plan plan;
    /** Outages are waited out for network.maxOutage, never past the source's retention headroom. */
    protected final Retry retry;
    protected final AtomicReference<Phase> phase = new AtomicReference<>(Phase.PREFLIGHT);
    protected final AtomicBoolean paused = new AtomicBoolean();
    protected final Instant startedAt = Instant.now();
    protected final History history = new History(900);
    protected final List<MigrationStatus.PhaseEntry> phases = new CopyOnWriteArrayList<>();
    protected final Map<String, AtomicLong> errors = new ConcurrentHashMap<>();
    protected final AtomicLong appliedEvents = new AtomicLong();
    protected final AtomicLong appliedBatches = new AtomicLong();
    protected volatile String listen;
    protected volatile MigrationStatus.Problem error;
    protected volatile MigrationStatus.Validation validation = MigrationStatus.Validation.never();
    protected final AtomicBoolean validating = new AtomicBoolean();
    private final String pausedMessage;

    protected AbstractWorker(Plan plan, String pausedMessage) {
        this.retry = new Retry(() -> plan.network().maxOutage(), Duration.ofMillis(200), this::retentionHeadroomSeconds);
        this.plan = plan;
        this.pausedMessage = pausedMessage;
    }

    /**
     * Moves the phase to {@code next} through the state machine ({@link Phase#next()}): a move it does not allow throws
     * {@link IllegalStateException} and nothing moves. Returns the phase before.
     */
    protected Phase moveChecked(Phase next) {
        while (true) {
            Phase current = phase.get();
            current.requireMoveTo(next);
            if (phase.compareAndSet(current, next)) {
                return current;
            }
        }
    }

    @Override
    public Plan plan() {
        return plan;
    }

    @Override
    public Retry retry() {
        return retry;
    }

    @Override
    public History history() {
        return history;
    }

    @Override
    public void pause() {
        if (!paused.getAndSet(true)) {
            LOG.info(pausedMessage);
        }
    }

    @Override
    public void resume() {
        if (paused.getAndSet(false)) {
            LOG.info("resumed");
        }
    }

    @Override
    public boolean paused() {
        return paused.get();
    }

    /** The address the control server listens on, shown in status. */
    @Override
    public void servedAt(String listen) {
        this.listen = listen;
    }

    @Override
    public long appliedEvents() {
        return appliedEvents.get();
    }

    @Override
    public long appliedBatches() {
        return appliedBatches.get();
    }

    /** One validation's work: the engine's comparison, fenced by this worker's applied position. */
    protected interface ValidationRun {
        io.migrator.core.state.ValidationReport run() throws InterruptedException;
    }

    /**
     * Runs a validation while status shows it as running: one at a time (a second is refused with a remedy); the result
     * becomes the status' last validation, and a failed run leaves the previous result in place.
     */
    protected io.migrator.core.state.ValidationReport validateOnce(ValidationRun work) throws InterruptedException {
        if (!validating.compareAndSet(false, true)) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "a validation of " + plan.name() + " is already running",
                    "wait for it to finish (`migrator status` shows it), then validate again");
        }
        MigrationStatus.Validation before = validation;
        try {
            validation = before.withRunning(true);
            io.migrator.core.state.ValidationReport report = work.run();
            validation = new MigrationStatus.Validation(report.state(), report.mismatchCount(), report.parityPercent(),
                    report.finishedAt(), false);
            return report;
        } catch (RuntimeException | InterruptedException e) {
            validation = before;
            throw e;
        } finally {
            validating.set(false);
        }
    }

    /** Failures that stopped the worker, by error code (metrics). */
    @Override
    public Map<String, Long> errorsByCode() {
        Map<String, Long> copy = new TreeMap<>();
        errors.forEach((code, n) -> copy.put(code, n.get()));
        return copy;
    }

    /**
     * Moves to FAILED and records the failure where status and metrics find it; returns the journal detail
     * ("failed in PHASE: message") the engine stores on its target.
     */
    protected String recordFailure(Exception e) {
        Phase current = phase.getAndSet(Phase.FAILED);
        MigratorException m = e instanceof MigratorException me ? me : null;
        String code = m == null ? ErrorCode.INTERNAL.name() : m.code().name();
        error = new MigrationStatus.Problem(code, e.getMessage(), m == null ? null : m.remedy());
        errors.computeIfAbsent(code.toLowerCase(Locale.ROOT), k -> new AtomicLong()).incrementAndGet();
        String detail = "failed in " + current.name() + ": " + e.getMessage();
        phases.add(new MigrationStatus.PhaseEntry(Phase.FAILED, Instant.now().toString(), detail));
        return detail;
    }

    /**
     * What `migrator cutover` checks first, from the worker's side (status {@code cutoverReady}): STREAMING, not paused,
     * lag at most cutover.maxLag, and the last validation passed within cutover.validatedWithin with none running.
     */
    protected boolean cutoverReady(Phase p, boolean paused, Double lagSeconds) {
        return p == Phase.STREAMING && !paused && lagSeconds != null && lagSeconds * 1000 <= plan.cutover().maxLag().toMillis()
                && (validationWaived() ? !"mismatch".equals(validation.state()) : validatedForCutover(validation));
    }

    /** The outage this worker rides out now, as status shows it; null when none. */
    protected MigrationStatus.Degraded degraded() {
        Retry.Outage outage = retry.outage();
        return outage == null ? null : new MigrationStatus.Degraded(outage.since().toString(), outage.what(), outage.attempts(),
                outage.lastError(), outage.maxOutage().toSeconds());
    }

    /** The source's retention headroom now, for how long an outage may be waited out (null: unknown or unlimited). */
    protected Double retentionHeadroomSeconds() {
        return null;
    }

    /** A reverse direction's rollback needs no recent clean validation (Runbook.Host#rollback says why). */
    protected boolean validationWaived() {
        return false;
    }

    private boolean validatedForCutover(MigrationStatus.Validation last) {
        if (!"passed".equals(last.state()) || last.running() || last.lastRunAt() == null) {
            return false;
        }
        try {
            return Duration.between(Instant.parse(last.lastRunAt()), Instant.now()).compareTo(plan.cutover().validatedWithin()) <= 0;
        } catch (java.time.format.DateTimeParseException e) {
            return false;
        }
    }

    /** The last rollback's report, kept once its reverse worker is gone. */
    protected volatile io.migrator.core.state.CutoverReport lastRollback;

    /** The reverse direction's worker while it streams (this migration cut over), else null; none for engines without it. */
    protected Worker reverseWorker() {
        return null;
    }

    /** The rollback: the reverse direction's cutover, on the worker that streams it. */
    @Override
    public synchronized io.migrator.core.state.CutoverReport startRollback(boolean dryRun, Duration maxDowntime) {
        Worker back = reverseWorker();
        if (phase.get() != Phase.CUT_OVER || back == null) {
            boolean cut = phase.get() == Phase.CUT_OVER;
            throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, !cut ? "migration " + plan.name() + " is " + phase.get()
                    + ", not cut over: there is nothing to roll back" : plan.cutover().reverse() ? "reverse replication of " + plan.name()
                    + " is not running, so nothing would carry the new server's writes back" : "migration " + plan.name() + " runs no "
                    + "reverse replication (cutover.reverse: false): nothing would carry the new server's writes back",
                    !cut ? "a rollback follows a cutover; before one, the source still takes the writes" : plan.cutover().reverse()
                    ? "look at `migrator status` (its error) and the worker's log; once it streams, roll back" : "point the "
                    + "application back at the old source yourself (it is as it was at the cutover) and give its users their writes "
                    + "back there (`migrator complete` does)");
        }
        return back.startCutover(dryRun, maxDowntime);
    }

    @Override
    public java.util.Optional<io.migrator.core.state.CutoverReport> rollback() {
        Worker back = reverseWorker();
        java.util.Optional<io.migrator.core.state.CutoverReport> running = back == null ? java.util.Optional.empty() : back.cutover();
        return running.isPresent() ? running : java.util.Optional.ofNullable(lastRollback);
    }

    /**
     * Runs a reverse direction's worker on its own thread until this worker stops (false) or {@code rolledBack} says its
     * cutover, the rollback, is done (true); the reverse worker has ended either way (a running rollback ends first) and its
     * last rollback report is kept for {@link #rollback()}. Its failure is thrown when it ended on its own.
     */
    protected boolean runReverse(Worker back, java.util.function.BooleanSupplier rolledBack, AtomicBoolean stop) {
        Duration grace = plan.cutover().maxDowntime().plusSeconds(60);
        AtomicBoolean backStop = new AtomicBoolean();
        java.util.concurrent.atomic.AtomicReference<RuntimeException> failed = new java.util.concurrent.atomic.AtomicReference<>();
        Thread thread = new Thread(() -> {
            try {
                back.run(backStop);
            } catch (RuntimeException e) {
                failed.set(e);
            }
        }, "reverse");
        thread.start();
        boolean done = false;
        try {
            while (!stop.get() && thread.isAlive()) {
                if (rolledBack.getAsBoolean()) {
                    done = true;
                    break;
                }
                sleep(100);
            }
        } finally {
            backStop.set(true);
            try {
                thread.join(grace.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            lastRollback = back.cutover().orElse(lastRollback);
        }
        // the reverse worker ends by itself once its cutover (the rollback) is done: it may be gone before the loop above
        // looked, and a finished rollback must not read as a stop (the forward worker would end without a word)
        if (!done && !stop.get() && failed.get() == null && rolledBack.getAsBoolean()) {
            done = true;
        }
        if (!done && failed.get() != null && !stop.get()) {
            throw failed.get();
        }
        return done;
    }

    protected static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
