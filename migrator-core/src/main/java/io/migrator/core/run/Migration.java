package io.migrator.core.run;

import io.migrator.core.apply.StreamPlayer;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import io.migrator.core.snapshot.SnapshotCoordinator;
import io.migrator.core.snapshot.TargetSchema;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.spi.WorkerLease;
import io.migrator.core.state.MigrationState;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import io.migrator.core.state.ValidationReport;
import io.migrator.core.state.WorkerRecord;
import io.migrator.core.validate.ValidationService;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * One row migration's worker: the phase loop. SCHEMA creates the target tables, SNAPSHOT copies them in chunks
 * ({@link SnapshotCoordinator}), CATCH_UP and STREAMING play the change stream ({@link StreamPlayer}). Every phase change
 * is saved on the target and logged once; a restart reads the state back and carries on from the last committed chunk
 * or checkpoint. What status shows is {@link Progress}'s job; validation.every is {@link ScheduledValidation}'s.
 */
public final class Migration extends AbstractWorker {
    private static final Logger LOG = LoggerFactory.getLogger(Migration.class);

    private final SourceSession source;
    private final TargetSession target;
    private final StreamPlayer player;
    private final Progress progress;
    private final ScheduledValidation scheduled;
    private volatile SourcePosition startPosition;
    private volatile MigratorException leaseLost;
    private final io.migrator.core.cutover.CutoverDriver cutovers;
    private volatile List<TableDef> tables = List.of();
    /** The forward stream is stopped for good (past the point of no return, or cut over) or held by the cutover. */
    private volatile boolean streamHold;

    public Migration(Plan plan, SourceSession source, TargetSession target) {
        super(plan, "paused: the copy and the applier wait; lag grows until resume");
        this.source = source;
        this.target = target;
        // the cutover's hold past its point of no return stops the applier at once, the stream itself a moment later
        this.player = new StreamPlayer(plan, source, target, retry, () -> paused.get() || streamHold, () -> startPosition);
        this.progress = new Progress(this, source, player);
        this.scheduled = new ScheduledValidation(this, plan.validation().every());
        this.cutovers = new io.migrator.core.cutover.CutoverDriver(plan, source, target, new CutoverHost());
    }

    /**
     * Validates the plan's tables (or those matching {@code patterns}) against the target while the stream runs: the
     * fence is the player's applied position, and repairs go through its applier, between batches, in order.
     */
    @Override
    public ValidationReport validate(List<String> patterns, boolean repair) throws InterruptedException {
        ValidationService.requireCopied(phase.get());
        Phase now = phase.get();
        if (now == Phase.CUTTING_OVER || now == Phase.CUT_OVER || cutovers.running()) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "migration " + plan.name() + " is " + (now == Phase.CUT_OVER ? "cut over: "
                    + "the target takes the application's writes, and a repair would overwrite them with the old source's rows"
                    : "cutting over"), now == Phase.CUT_OVER ? "compare the servers with your own tools if you must; the forward stream has "
                    + "ended" : "wait for the cutover to finish (`migrator status`)");
        }
        long mark = player.changedKeys().mark();
        ValidationReport report = validateOnce(() -> ValidationService.run(plan, source, target, ValidationService.tables(plan, source, patterns),
                player, player::repair, ValidationService.options(plan, repair)));
        if (report.ok() && patterns.isEmpty()) {
            player.changedKeys().forgetBefore(mark); // what changed before this clean validation needs no check at the cutover
        }
        return report;
    }

    /** Starts the cutover on its own thread (the stream goes on until the target opens); its report so far. */
    @Override
    public synchronized io.migrator.core.state.CutoverReport startCutover(boolean dryRun, java.time.Duration maxDowntime) {
        return cutovers.start(dryRun, maxDowntime, phase.get(), streamHold);
    }

    @Override
    public java.util.Optional<io.migrator.core.state.CutoverReport> cutover() {
        return cutovers.report();
    }

    /** Step durations of the last cutover, for the metrics. */
    public java.util.Map<String, Long> cutoverStepMillis() {
        return cutovers.stepMillis();
    }

    /** What the runbook reads and writes through this worker: status, tables, changed keys, the fence, the journal. */
    private final class CutoverHost implements io.migrator.core.cutover.Runbook.Host {
        @Override
        public MigrationStatus status() {
            return Migration.this.status();
        }

        @Override
        public List<TableDef> tables() {
            return tables;
        }

        @Override
        public io.migrator.core.apply.ChangedKeys changedKeys() {
            return player.changedKeys();
        }

        @Override
        public io.migrator.core.spi.Fence fence() {
            return player;
        }

        @Override
        public void move(Phase next, String why) {
            Migration.this.move(next, startPosition, why);
            cutovers.journaled(why);
        }

        @Override
        public void journal(String detail) {
            Instant at = Instant.now();
            target.saveState(new MigrationState(plan.name(), phase.get(), startPosition, at, detail));
            phases.add(new MigrationStatus.PhaseEntry(phase.get(), at.toString(), detail));
            cutovers.journaled(detail); // the point of no return counts only once the target holds it
        }

        @Override
        public void stopStream() {
            streamHold = true; // the applier holds between batches; the stream's next tick ends it in the background
            boolean held;
            try {
                held = player.awaitHeld(java.time.Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                held = false;
            }
            if (!held) {
                throw new MigratorException(ErrorCode.CUTOVER_FAILED, "the applier did not stop within 10 s of the point of no return",
                        "look at the worker's log; `migrator cutover PLAN` again goes on from the switch");
            }
        }

        @Override
        public void holdStream() {
            pause();
        }
    }

    @Override
    public MigrationStatus status() {
        return progress.status();
    }

    @Override
    public long appliedEvents() {
        return player.appliedEvents();
    }

    @Override
    public long appliedBatches() {
        return player.appliedBatches();
    }

    @Override
    public io.migrator.core.spi.Fence fence() {
        return player;
    }

    SourcePosition startPosition() {
        return startPosition;
    }

    /** Runs until {@code stop} is set or a failure; returns normally when stopped. */
    @Override
    public void run(AtomicBoolean stop) {
        MDC.put("migration", plan.name());
        WorkerLease lease;
        try {
            target.prepare();
            lease = target.claim(WorkerRecord.self(listen), lost -> {
                leaseLost = lost;
                stop.set(true);
            });
        } catch (RuntimeException e) {
            // Nothing of this run is on the target yet, and another worker may own the state there: record nothing.
            MDC.remove("migration");
            throw e instanceof MigratorException m ? m
                    : new MigratorException(ErrorCode.INTERNAL, "migration " + plan.name() + " could not start: " + e, null, e);
        }
        try {
            runClaimed(stop);
        } finally {
            lease.close(); // after a failure is saved: until then no other worker may claim the migration
            MDC.remove("migration");
        }
        MigratorException lost = leaseLost;
        if (lost != null && phase.get() != Phase.FAILED) {
            recordFailure(lost); // the other worker owns the target's state now: nothing is written there
            throw lost;
        }
    }

    private void runClaimed(AtomicBoolean stop) {
        try {
            MigrationState state = readBack();
            List<TableDef> tables = source.tables(plan.tables());
            this.tables = tables;
            // before anything is written: another migration of this name, or a restart onto a reset target, stops here
            MigrationIds.settle(plan, source, target);
            if (state != null) {
                ResumeCheck.requireCopiedTables(plan, state, tables, target.allChunks(), source, target);
            }
            progress.tables(tables);
            progress.startSampling(stop);
            if (state == null || phase.get() == Phase.PREFLIGHT || phase.get() == Phase.SCHEMA) {
                move(Phase.SCHEMA, null, "creating target tables");
                TargetSchema.create(target, tables);
                // P0: taken after the target tables exist and before any row is read (rule 1).
                startPosition = source.beginSnapshot();
                progress.snapshotStarted(System.currentTimeMillis());
                move(Phase.SNAPSHOT, startPosition, "start position " + startPosition.text());
            }
            if (phase.get() == Phase.SNAPSHOT && !copy(tables, stop)) {
                return;
            }
            if (phase.get() == Phase.CUTTING_OVER) {
                cutovers.recover(); // the worker stopped inside a cutover: the journal says whether it goes forward or is undone
            }
            streamHold = phase.get() == Phase.CUT_OVER;
            if (!streamHold) {
                String streamId = plan.name() + "-" + Integer.toHexString(startPosition == null ? 0 : startPosition.text().hashCode());
                AtomicBoolean streamStop = new AtomicBoolean();
                player.play(tables, streamId, streamStop, () -> {
                    if (stop.get() || streamHold) {
                        streamStop.set(true); // stopped, or past the cutover's point of no return: the forward stream ends
                        return;
                    }
                    if (phase.get() == Phase.CATCH_UP && progress.caughtUp()) {
                        move(Phase.STREAMING, startPosition, "caught up");
                    }
                    if (phase.get() == Phase.STREAMING && cutovers.idle()) {
                        scheduled.maybeStart();
                    }
                });
            }
            if (streamHold && !stop.get()) {
                LOG.info("the forward stream has stopped (phase {}); the worker serves status until it is stopped", phase.get());
                while (!stop.get()) {
                    sleep(200);
                }
            }
            cutovers.await();
        } catch (MigratorException e) {
            if (e.code() == ErrorCode.STALE_STATE || e.code() == ErrorCode.MIGRATION_NAME_TAKEN) {
                recordFailure(e); // status shows it; the stored state (perhaps another migration's) stays as it was
            } else {
                fail(e);
            }
            throw e;
        } catch (RuntimeException e) {
            fail(e);
            throw new MigratorException(ErrorCode.INTERNAL, "migration " + plan.name() + " failed: " + e, null, e);
        } finally {
            progress.stopSampling();
        }
    }

    /** Reads what the target keeps of this migration (state, journal, chunk marks, last validation); null on a first start. */
    private MigrationState readBack() {
        MigrationState state = target.loadState().orElse(null);
        for (MigrationState entry : target.journal()) {
            phases.add(new MigrationStatus.PhaseEntry(entry.phase(), entry.updatedAt().toString(), entry.detail()));
            if (entry.phase() == Phase.SNAPSHOT) {
                progress.snapshotStarted(entry.updatedAt().toEpochMilli());
            }
            cutovers.journaled(entry.detail());
        }
        progress.storedChunks(target.allChunks());
        target.lastValidation().ifPresent(r -> validation = ValidationService.summary(r));
        player.resumeCounting(target.appliedEvents());
        if (state != null) {
            LOG.info("resuming migration {} in phase {}", plan.name(), state.phase());
            phase.set(state.phase() == Phase.FAILED ? resumePhase(state.failedIn()) : state.phase());
            startPosition = state.startPosition();
        }
        return state;
    }

    /** A failed run resumes in the phase it failed in; a stream that failed catches up first. */
    private static Phase resumePhase(Phase failedIn) {
        if (failedIn == Phase.CUTTING_OVER || failedIn == Phase.CUT_OVER) {
            return failedIn; // a cutover's restart finishes or undoes it from the journal; after it, nothing streams forward
        }
        if (failedIn == null || failedIn.ordinal() < Phase.SCHEMA.ordinal() || failedIn.ordinal() > Phase.STREAMING.ordinal()) {
            return Phase.SCHEMA;
        }
        return failedIn == Phase.STREAMING ? Phase.CATCH_UP : failedIn;
    }

    /** The copy, then the deferred indexes; false when stopped before both were done. */
    private boolean copy(List<TableDef> tables, AtomicBoolean stop) {
        SnapshotCoordinator copy = new SnapshotCoordinator(source, target, plan.snapshot(), retry, () -> paused.get() && !stop.get());
        progress.copying(copy);
        boolean copied;
        try {
            copied = copy.copy(tables, stop);
        } finally {
            source.endSnapshot();
        }
        if (!copied || !copy.buildDeferredIndexes(tables, stop)) {
            return false;
        }
        move(Phase.CATCH_UP, startPosition, copy.rowsCopied() + " rows copied");
        return true;
    }

    private void move(Phase next, SourcePosition start, String why) {
        Phase current = phase.get();
        if (current != next && !current.canMoveTo(next) && current != Phase.PREFLIGHT) {
            throw new IllegalStateException("phase " + current + " cannot move to " + next);
        }
        Instant at = Instant.now();
        target.saveState(new MigrationState(plan.name(), next, start, at, why));
        phase.set(next);
        phases.add(new MigrationStatus.PhaseEntry(next, at.toString(), why));
        LOG.info("phase {} -> {} ({})", current, next, why);
    }

    private void fail(Exception e) {
        String detail = recordFailure(e);
        if (leaseLost != null) {
            return; // another worker owns the migration's state on the target now: write nothing there
        }
        try {
            // the journal keeps the phase it failed in: the target reads it back as MigrationState.failedIn
            target.saveState(new MigrationState(plan.name(), Phase.FAILED, startPosition, Instant.now(), detail));
        } catch (RuntimeException ignored) {
            // the target may be what failed; the previous state stays, and a restart resumes from it
        }
    }
}
