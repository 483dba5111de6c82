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

    /** Opens the reverse direction's worker after a cutover (target → old source); null: this worker runs no reverse. */
    private final java.util.function.Function<Plan, Migrations.OpenWorker> reverseOpener;
    /** The reverse direction while it streams (after the cutover), else null. */
    private volatile Migration reverse;
    /** This worker is a reverse direction (target → old source): its cutover is a rollback. */
    private volatile boolean reverseDirection;
    /** A reverse direction's forward migration: the direction that streams again after its cutover, the rollback. */
    private volatile String forwardName;

    public Migration(Plan plan, SourceSession source, TargetSession target) {
        this(plan, source, target, null);
    }

    /**
     * {@code reverseOpener} opens the reverse direction's worker over fresh sessions when this migration is cut over: the
     * target's changes from the cutover's fence then stream into the old source (reverse replication), ready for a rollback.
     */
    public Migration(Plan plan, SourceSession source, TargetSession target, java.util.function.Function<Plan, Migrations.OpenWorker> reverseOpener) {
        super(plan, "paused: the copy and the applier wait; lag grows until resume");
        this.reverseOpener = reverseOpener;
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
        Migration back = reverse;
        if (back != null && phase.get() == Phase.CUT_OVER) {
            return back.validate(patterns, repair); // cut over: parity of the reverse direction, the old source against the target
        }
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

    @Override
    protected io.migrator.core.spi.Worker reverseWorker() {
        return reverse;
    }

    @Override
    protected boolean validationWaived() {
        return reverseDirection && !player.changedKeys().snapshot().partial();
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

        @Override
        public boolean rollback() {
            return reverseDirection;
        }

        @Override
        public boolean rollbackVerifiesAll() {
            return validationWaived();
        }

        @Override
        public String oppositeDirection() {
            if (reverseDirection) {
                return forwardName;
            }
            return reverseOpener != null && plan.cutover().reverse() ? Plan.reverseName(plan.name()) : null;
        }
    }

    @Override
    public MigrationStatus status() {
        Migration back = reverse;
        MigrationStatus own = progress.status();
        return back == null ? own : own.withReverse(back.status());
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
            if (phase.get() == Phase.ROLLED_BACK) {
                forwardAgain(null); // stopped between the rollback's end and streaming forward again
            }
            streamHold = phase.get() == Phase.CUT_OVER;
            while (!stop.get()) {
                if (!streamHold) {
                    streamForward(tables, stop);
                }
                if (stop.get()) {
                    break;
                }
                LOG.info("the forward stream has stopped (phase {}); the worker serves status until it is stopped", phase.get());
                if (!streamReverse(stop)) {
                    while (!stop.get()) {
                        sleep(200);
                    }
                    break;
                }
                streamHold = false; // rolled back: the old source takes the writes, and they stream forward again
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

    /**
     * Cut over: the target's changes from the position read at the cutover's fence stream into the old source through a
     * worker of the reverse plan ({@link Plan#reversed}), with its checkpoint in the old source's bookkeeping, until this
     * worker stops or a rollback (that worker's cutover) ends: then true, and this migration streams forward again. A
     * failure is retried every 10 s (status shows it meanwhile); each start resumes from its checkpoint. First, the forward
     * stream's hold on the old source (a PostgreSQL slot) is let go: a PostgreSQL reverse stream reads a slot of its own, made
     * on the new server before the cutover's freeze ({@link io.migrator.core.spi.CutoverTarget#prepareReverse}).
     */
    private boolean streamReverse(AtomicBoolean stop) {
        while (!stop.get() && phase.get() == Phase.CUTTING_OVER) {
            sleep(100); // past the point of no return, the cutover's last steps still run (or wait to be run again)
        }
        java.util.Optional<String> from = cutovers.reverseFrom();
        if (reverseOpener == null || phase.get() != Phase.CUT_OVER) {
            return false;
        }
        if (!plan.cutover().reverse()) {
            releaseForward();
            LOG.info("no reverse replication (cutover.reverse: false): no rollback can carry the new server's writes back");
            return false;
        }
        if (from.isEmpty()) {
            releaseForward();
            LOG.warn("no reverse position was recorded at the cutover (the target keeps no log a reverse stream could read): no reverse "
                    + "replication, so no rollback can carry the target's writes back");
            return false;
        }
        Plan reversed = plan.reversed();
        while (!stop.get()) {
            try (Migrations.OpenWorker opened = reverseOpener.apply(reversed)) {
                Migration back = (Migration) opened.worker();
                if (back.target.loadState().isEmpty()) {
                    // the first start after the cutover; later, a rollback may have made the forward slot again already
                    releaseForward();
                }
                back.seedReverse(new SourcePosition(from.get()), plan.name());
                LOG.info("reverse replication {} -> {} as {}, from {}", MigrationIds.describe(reversed.source()),
                        MigrationIds.describe(reversed.target()), reversed.name(), from.get());
                if (runReverse(back, stop)) {
                    reverse = null; // status is this migration's own again: ROLLED_BACK, then forward
                    forwardAgain(back);
                    return true;
                }
            } catch (RuntimeException e) {
                LOG.warn("reverse replication stopped: {}; starting it again in 10 s", e.getMessage());
                for (int i = 0; i < 50 && !stop.get(); i++) {
                    sleep(200);
                }
            } finally {
                reverse = null;
            }
        }
        return false;
    }

    @Override
    protected Double retentionHeadroomSeconds() {
        return progress == null ? null : progress.headroomSeconds();
    }

    /** Cut over: the forward stream's hold on the old source (a PostgreSQL slot) let go; a failure only logged. */
    private void releaseForward() {
        try {
            List<String> released = source.releaseStream();
            if (!released.isEmpty()) {
                LOG.info("cut over: the forward stream's hold on the old source let go: {}", released);
            }
        } catch (RuntimeException e) {
            LOG.warn("could not let go of the forward stream's hold on the old source ({}); `migrator complete` drops it", e.getMessage());
        }
    }

    /** Runs the reverse worker on its own thread until this worker stops (false) or its cutover, the rollback, is done (true). */
    private boolean runReverse(Migration back, AtomicBoolean stop) {
        reverse = back;
        return runReverse(back, () -> back.phase.get() == Phase.CUT_OVER && back.cutovers.idle(), stop);
    }

    /**
     * After a rollback: the new server is this migration's target again (its triggers dropped: they would fire on replayed
     * rows), the checkpoint set to the old source's position read at the rollback's fence, ROLLED_BACK journaled, the reverse
     * direction's bookkeeping removed, and the phase back to CATCH_UP so the forward stream starts there. {@code back} is
     * null when a restart finds ROLLED_BACK (the checkpoint is set already).
     */
    private void forwardAgain(Migration back) {
        if (back != null) {
            String from = back.cutovers.reverseFrom().orElseThrow(() -> new MigratorException(ErrorCode.CUTOVER_FAILED,
                    "the rollback recorded no position on the old source to stream forward from (it keeps no binlog)",
                    "the application writes on the old source now; start the migration afresh (`migrator complete`, then `migrator run`) "
                            + "to move again"));
            LOG.info("rolled back: the new server is the target again: {}", target.closeForWrites());
            target.apply(List.of(), new SourcePosition(from), 0);
            move(Phase.ROLLED_BACK, startPosition, "rolled back: writes open on the old source; streaming forward again from " + from);
        }
        if (reverseOpener != null) {
            try (Migrations.OpenWorker opened = reverseOpener.apply(plan.reversed())) {
                LOG.info("the reverse direction's bookkeeping removed: {}", ((Migration) opened.worker()).forgetReverse());
            }
        }
        move(Phase.CATCH_UP, startPosition, "streaming forward again after the rollback");
    }

    /** The reverse direction is done with (a rollback ended it): its heartbeat and id on the new server, its bookkeeping on the old source. */
    List<String> forgetReverse() {
        List<String> removed = new java.util.ArrayList<>(source.release(plan.name()));
        if (target.loadState().isPresent()) {
            removed.addAll(target.forget());
        }
        return removed;
    }

    /**
     * A reverse direction's start: its state on the old source (its target) begins in CATCH_UP at the cutover's fence, so
     * the stream starts there and no copy runs. While it takes replayed rows (not during or after its own cutover, the
     * rollback), the old source's triggers on the plan's tables are dropped, as on any target: they fire where the
     * application writes, on the new server, and their effects arrive as rows; the rollback's opening creates them again.
     */
    void seedReverse(SourcePosition from, String forward) {
        reverseDirection = true;
        forwardName = forward;
        target.prepare();
        MigrationState state = target.loadState().orElse(null);
        if (state != null && state.startPosition() != null && !state.startPosition().text().equals(from.text())) {
            // another cutover's reverse direction (its rollback done, its bookkeeping not yet removed): this one starts afresh
            LOG.info("an earlier reverse direction's state is left on the old source (from {}): removed: {}", state.startPosition().text(),
                    forgetReverse());
            target.prepare();
            state = null;
        }
        if (state == null) {
            player.changedKeys().trackAll(); // from the fence on, every row the new server changes is known: the rollback verifies them all
            target.saveState(new MigrationState(plan.name(), Phase.CATCH_UP, from, Instant.now(),
                    "reverse replication from the cutover's fence at " + from.text()));
        }
        Phase at = state == null ? Phase.CATCH_UP : state.phase() == Phase.FAILED ? state.failedIn() : state.phase();
        if (at == Phase.CATCH_UP || at == Phase.STREAMING) {
            LOG.info("reverse replication into the old source: {}", target.closeForWrites());
        }
    }

    /** Plays the forward stream until this worker stops or the cutover's point of no return holds it. */
    private void streamForward(List<TableDef> tables, AtomicBoolean stop) {
        // after a rollback the old source's schema moved on under reverse replication: a stream of its own captures it afresh
        long rollbacks = phases.stream().filter(e -> e.phase() == Phase.ROLLED_BACK).count();
        String streamId = plan.name() + "-" + Integer.toHexString(startPosition == null ? 0 : startPosition.text().hashCode())
                + (rollbacks == 0 ? "" : "-r" + rollbacks);
        long backoff = 200;
        java.time.Instant outageStarted = null; // the stream's own: batches applied between reconnects do not renew it
        while (true) {
            long playing = System.nanoTime();
            AtomicBoolean streamStop = new AtomicBoolean(); // each attempt's own: the pipeline sets it when it closes
            try {
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
                return;
            } catch (io.migrator.core.error.RetriableException e) {
                if (stop.get() || streamHold) {
                    return; // stopping, or past the cutover's point of no return: the forward stream ends here anyway
                }
                // the source went away (a restart, a failover, a cut or stalled connection): the stream starts again from
                // the target's checkpoint, which commits with the rows, so nothing is skipped or applied twice
                if (outageStarted == null || System.nanoTime() - playing > 60_000_000_000L) {
                    backoff = 200; // the first failure, or it ran a while: a new outage, not the same one going on
                    outageStarted = java.time.Instant.now();
                }
                long wait = retry.failed("the change stream", e, backoff, outageStarted);
                for (long slept = 0; slept < wait && !stop.get(); slept += 100) {
                    sleep(100);
                }
                backoff = Math.min(backoff * 2, 30_000);
            }
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
        if (failedIn == Phase.CUTTING_OVER || failedIn == Phase.CUT_OVER || failedIn == Phase.ROLLED_BACK) {
            return failedIn; // a cutover's restart finishes or undoes it from the journal; a rollback's goes on forward
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
        if (current != Phase.PREFLIGHT) { // a resumed worker's first move starts wherever its stored state was
            current.requireMoveTo(next);
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
