package io.migrator.connectors.redis;

import static io.migrator.connectors.redis.RedisTargetNodes.bytes;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import io.migrator.core.state.ValidationReport;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisConnectionException;

/**
 * One Redis migration's worker, in the shape every engine's worker has: a source reader ({@link RedisReplicationReader}:
 * PSYNC through redis-replicator), an applier thread ({@link RedisApplyLoop}) writing through the restorer
 * ({@link RedisRestorer}, the full sync's RESTOREs) and a stream applier ({@link RedisStandaloneApplier} or
 * {@link RedisClusterApplier}), the bookkeeping on the target ({@link RedisBookkeeping}), progress and lag
 * ({@link RedisProgress}), and the phases moved through the checked state machine ({@link #move}).
 * <p>
 * A full sync arrives as one DUMP payload per key, restored on the target with {@code RESTORE key ttl payload REPLACE
 * ABSTTL}; then the replication stream is replayed command by command. Each batch of commands is one MULTI/EXEC on a
 * standalone target, ending with the checkpoint (replication id, offset, selected database), so a batch is applied entirely
 * or not at all and a restart continues with {@code PSYNC replid offset+1}: every write exactly once. On a cluster, a batch
 * is one MULTI/EXEC per slot, each ending with that slot's own offset; commands a slot already holds are stepped over after
 * a restart. When the source cannot continue (its backlog no longer holds the offset), it sends a full sync; keys the
 * target holds that the new full sync does not carry were deleted on the source meanwhile and are removed before the
 * stream goes on.
 */
final class RedisMigration extends io.migrator.core.run.AbstractWorker {
    private static final Logger LOG = LoggerFactory.getLogger(RedisMigration.class);

    private final List<Integer> databases;
    private final Predicate<byte[]> keyFilter;
    /**
     * How long a read on a Redis connection may wait (network.readTimeout, at most 60 s: Redis answers at once, and a master
     * pings its replicas every 10 s, so at least 15 s): a half-open connection is then dropped and made again.
     */
    private final Duration timeout;
    private final AtomicBoolean stopping = new AtomicBoolean();
    final RedisBookkeeping books;
    final RedisProgress progress;
    private final RedisTargetWrites writes;
    private final RedisCommandFilter filter;
    /** The current stream's reader (status counts what it holds), else null. */
    private volatile RedisReplicationReader reader;
    private volatile boolean leaseLost;
    private volatile RedisWorkerLease lease;
    /** The first failure of the stream's threads (the replication reader, the applier, a lost claim). */
    private volatile Throwable failure;

    // ---- the cutover (RedisCutover's seams on the shared runbook) ----
    private final io.migrator.core.cutover.CutoverDriver cutovers;
    /** Past the cutover's point of no return: the applier applies nothing more (set by the cutover, acknowledged by the applier). */
    volatile boolean streamStopped;
    volatile boolean streamStoppedAck;

    // ---- reverse replication (RedisReverse) ----
    /** Set when this worker is a reverse direction (new server → old source): the forward migration's name. */
    private final String forwardName;
    /** The reverse direction while it streams (this migration cut over), else null. */
    private volatile RedisMigration reverse;
    /** A reverse direction that has streamed from the cutover's fence without a full sync: its parity follows from the fence. */
    volatile boolean continuous = true;

    RedisMigration(Plan plan) {
        this(plan, null);
    }

    /** {@code forwardName}: this is the reverse direction of that migration (its plan reversed), started at its cutover. */
    RedisMigration(Plan plan, String forwardName) {
        super(plan, "paused: the applier waits; the source keeps the stream in its backlog until resume");
        this.forwardName = forwardName;
        Duration read = plan.network().readTimeout();
        this.timeout = read.compareTo(Duration.ofSeconds(15)) < 0 ? Duration.ofSeconds(15)
                : read.compareTo(Duration.ofSeconds(60)) > 0 ? Duration.ofSeconds(60) : read;
        this.databases = plan.source().databases().isEmpty() ? List.of(0) : List.copyOf(plan.source().databases());
        this.keyFilter = RedisKeys.filter(plan);
        this.books = new RedisBookkeeping(plan, databases);
        this.progress = new RedisProgress(plan, databases, books, appliedEvents);
        this.writes = new RedisTargetWrites(plan, books, () -> lease, () -> leaseLost, stopping, retry);
        this.filter = new RedisCommandFilter(keyFilter, books);
        this.cutovers = new io.migrator.core.cutover.CutoverDriver(plan, new RedisCutover.Source(plan, forwardName != null), new RedisCutover.Target(plan,
                forwardName != null ? forwardName : Plan.reverseName(plan.name())), new RedisCutoverHost(this));
        this.cutoverJournal = new RedisCutoverJournal(plan);
    }

    @Override
    public io.migrator.core.state.CutoverReport startCutover(boolean dryRun, Duration maxDowntime) {
        return cutovers.start(dryRun, maxDowntime, phase.get(), streamStopped);
    }

    @Override
    public java.util.Optional<io.migrator.core.state.CutoverReport> cutover() {
        return cutovers.report();
    }

    @Override
    protected io.migrator.core.spi.Worker reverseWorker() {
        return reverse;
    }

    /** The rollback without a reverse stream (rollback.cache) while this migration is cut over, else null. */
    volatile RedisCachePolicy policy;

    @Override
    public synchronized io.migrator.core.state.CutoverReport startRollback(boolean dryRun, Duration maxDowntime) {
        RedisCachePolicy p = policy;
        if (p != null && phase.get() == Phase.CUT_OVER) {
            return p.driver.start(dryRun, maxDowntime, p.phase(), false);
        }
        return super.startRollback(dryRun, maxDowntime);
    }

    @Override
    public java.util.Optional<io.migrator.core.state.CutoverReport> rollback() {
        RedisCachePolicy p = policy;
        java.util.Optional<io.migrator.core.state.CutoverReport> running = p == null ? java.util.Optional.empty() : p.driver.report();
        return running.isPresent() ? running : super.rollback();
    }

    @Override
    protected boolean validationWaived() {
        return forwardName != null && continuous;
    }

    /** Runs the reverse worker on its own thread until this worker stops (false) or the rollback is done (true). */
    boolean runReverse(RedisMigration back, AtomicBoolean stop) {
        reverse = back;
        try {
            return runReverse(back, () -> back.phase.get() == Phase.CUT_OVER && back.cutovers.idle(), stop);
        } finally {
            reverse = null; // status is this migration's own again
        }
    }

    /** The applier passed {@code position} (a replication offset): everything the source had then is on the target. */
    @Override
    public io.migrator.core.spi.Fence fence() {
        return (position, wait) -> books.awaitApplied(Long.parseLong(position.text()), wait);
    }

    /** The cutover's journal and state on the target, on its own connection (the applier's belongs to the applier thread). */
    private final RedisCutoverJournal cutoverJournal;

    /** A cutover journal entry, durably on the target (a failure is thrown), then in status and the point-of-no-return tracking. */
    void cutoverJournal(Phase p, String detail) {
        String at = cutoverJournal.write(p, detail);
        phases.add(new MigrationStatus.PhaseEntry(p, at, detail));
        cutovers.journaled(detail);
    }

    @Override
    public ValidationReport validate(List<String> patterns, boolean repair) throws InterruptedException {
        RedisMigration back = reverse;
        if (back != null && phase.get() == Phase.CUT_OVER) {
            return back.validate(patterns, repair); // cut over: parity of the reverse direction, the old source against the new server
        }
        if (phase.get() == Phase.CUTTING_OVER || phase.get() == Phase.CUT_OVER || cutovers.running()) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "migration " + plan.name() + " is " + (phase.get() == Phase.CUT_OVER
                    ? "cut over: the target takes the application's writes, and a repair would overwrite them" : "cutting over"),
                    phase.get() == Phase.CUT_OVER ? "compare the servers with your own tools if you must; the forward stream has ended"
                            : "wait for the cutover to finish (`migrator status`)");
        }
        if (phase.get().ordinal() < Phase.CATCH_UP.ordinal() || phase.get() == Phase.FAILED) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the full sync of " + plan.name() + " is not finished",
                    "wait until it is (`migrator wait " + plan.name() + " --for CATCH_UP`), then validate");
        }
        return validateOnce(() -> new RedisKeyParity(plan).validate(repair, this::awaitCaughtUp));
    }

    /** The validator's fence: true once this worker applied everything the source had written when this was called. */
    private boolean awaitCaughtUp(Duration timeout) {
        long goal;
        try (Jedis source = RedisConnector.connect(plan.source(), Duration.ofSeconds(10))) {
            goal = Long.parseLong(RedisConnector.parseInfo(source.info("replication")).getOrDefault("master_repl_offset", "0"));
        }
        return books.awaitApplied(goal, timeout);
    }


    // ---------------------------------------------------------------------------------------------------------------
    // run

    @Override
    public void run(AtomicBoolean stop) {
        MDC.put("migration", plan.name());
        Thread watcher = daemon("stop-watcher", () -> {
            while (!stop.get() && !stopping.get()) {
                sleep(50);
            }
            stopping.set(true);
        });
        try {
            RedisConnector connector = new RedisConnector(); // named errors for unreachable servers and refused logins
            connector.probe(plan.source(), io.migrator.core.spi.Role.SOURCE, Duration.ofSeconds(10));
            connector.probe(plan.target(), io.migrator.core.spi.Role.TARGET, Duration.ofSeconds(10));
            if (forwardName == null && (plan.cutover().reverse() || !plan.cutover().rollbackCache().isEmpty())) {
                RedisReverse.endInterruptedFreeze(plan); // a rollback killed inside its freeze pauses this worker's own target
            }
            lease = RedisWorkerLease.claim(plan, io.migrator.core.state.WorkerRecord.self(listen), lost -> {
                leaseLost = true; // the other worker owns the target's bookkeeping now: this one writes nothing more there
                failure = lost;
            });
            RedisTargetNodes target = new RedisTargetNodes(plan.target(), timeout);
            books.target = target;
            RedisCheckpoint checkpoint = books.loadCheckpoint();
            phases.addAll(books.readJournal());
            if (checkpoint == null) {
                books.requireEmptyTarget();
                books.checkpoint = new RedisCheckpoint("?", -1, -1, Phase.PREFLIGHT, 0, 0, "none", Instant.now().toString());
            } else {
                LOG.info("resuming migration {} from {} (phase {})", plan.name(), checkpoint.position(), checkpoint.phase());
                books.checkpoint = checkpoint;
                books.everStored = true;
                phase.set(checkpoint.phase()); // where the stored state is: not a move
                appliedEvents.set(checkpoint.events());
                books.streamDb = checkpoint.db();
                if (target.cluster()) {
                    books.loadSlotOffsets();
                }
                books.resyncReason = checkpoint.needsResync() ? checkpoint.resync() : books.markedSlots.isEmpty() ? ""
                        : "the target lost or refused writes to " + books.markedSlots.size() + " cluster slot(s)";
                if (!books.resyncReason.isEmpty()) {
                    LOG.warn("the target's checkpoint of {} asks for a full resync: {}", plan.name(), books.resyncReason);
                }
            }
            String cutoverState = RedisCutoverJournal.state(target.node(target.slot(bytes(RedisCheckpoint.key(plan.name())))), plan.name());
            if (cutoverState != null) { // the checkpoint's phase is the stream's; a cutover keeps its own state beside it
                phase.set("cut-over".equals(cutoverState) ? Phase.CUT_OVER : Phase.CUTTING_OVER);
                cutovers.journaled("no-return".equals(cutoverState) ? io.migrator.core.cutover.Runbook.NO_RETURN
                        : io.migrator.core.cutover.Runbook.STARTED);
            }
            if (phase.get() == Phase.CUTTING_OVER && !cutovers.pastNoReturn()) {
                cutovers.recover(); // short of the point of no return: undone before anything streams (it needs no stream)
            }
            while (!stop.get()) {
                if (phase.get() == Phase.CUT_OVER && !new RedisAfterCutover(this).followReverse(stop)) {
                    break; // stopping (or no reverse direction: the worker served status until stopped)
                }
                if (!stop.get() && !stream(stop)) {
                    break;
                }
            }
        } catch (MigratorException e) {
            fail(e);
            throw e;
        } catch (RuntimeException e) {
            fail(e);
            throw new MigratorException(ErrorCode.INTERNAL, "migration " + plan.name() + " failed: " + e, null, e);
        } finally {
            stop.set(true);
            stopping.set(true);
            cutovers.await(); // a failing worker too: the cutover ends (or aborts) before the claim is released
            cutoverJournal.close();
            if (books.target != null) {
                books.target.close();
            }
            if (lease != null) {
                lease.close(); // last: until the failure is recorded, no other worker may claim the migration
            }
            MDC.remove("migration");
        }
    }

    /**
     * The stream from the target's checkpoint until the worker stops (false) or the migration is cut over (true: past the

    /**
     * The stream from the target's checkpoint until the worker stops (false) or the migration is cut over (true: past the
     * point of no return nothing more is applied, and the reverse direction follows; a reverse direction's cutover is the
     * rollback, and its worker ends with it).
     */
    private boolean stream(AtomicBoolean stop) {
        AtomicBoolean ended = new AtomicBoolean(); // this stream's own end: the worker's stop, or the cutover
        Thread sampler = null;
        Thread applierThread = null;
        failure = null;
        streamStopped = false;
        streamStoppedAck = false;
        RedisReplicationReader source = new RedisReplicationReader(plan, timeout, this::failed, () -> failure != null || stopping.get());
        reader = source;
        try {
            RedisReplicationReader.SourceFacts facts = source.sourceFacts();
            filter.commands = facts.commands();
            sampler = daemon("status-sampler", () -> progress.sampleLoop(ended, this::status, history));
            RedisApplier applier = books.target.cluster() ? new RedisClusterApplier(plan, books, writes, filter, appliedEvents, appliedBatches)
                    : new RedisStandaloneApplier(plan, databases, books, writes, filter, phase, appliedEvents, appliedBatches);
            RedisApplyLoop loop = new RedisApplyLoop(this, source, books, writes, new RedisRestorer(plan, databases, keyFilter, books, writes,
                    progress, facts.targetSetPxat()), applier, progress);
            applierThread = daemon("redis-applier", () -> loop.run(ended));
            RedisCheckpoint cp = books.checkpoint;
            boolean resume = cp.offset() >= 0 && !"?".equals(cp.replId()) && fullSyncDoneBefore() && books.resyncReason.isEmpty();
            source.open(facts, resume ? cp : null, ended::get);
            if (phase.get() == Phase.CUTTING_OVER && cutovers.pastNoReturn()) {
                cutovers.recover(); // past the point of no return: finished once the stream carried what the old source took
            }
            while (!stop.get()) {
                Throwable f = failure;
                if (f != null) {
                    throw translate(f);
                }
                if (phase.get() == Phase.CUT_OVER && cutovers.idle()) {
                    return forwardName == null;
                }
                sleep(100);
            }
            cutovers.await();
            return false;
        } finally {
            ended.set(true);
            join(applierThread);
            source.close(); // what the stream read past the point of no return is never applied
            if (sampler != null) {
                sampler.interrupt();
            }
        }
    }


    private boolean fullSyncDoneBefore() {
        Phase p = books.checkpoint.phase();
        return p == Phase.CATCH_UP || p == Phase.STREAMING;
    }

    private static MigratorException translate(Throwable f) {
        if (f instanceof MigratorException m) {
            return m;
        }
        String message = f.getMessage() == null ? f.toString() : f.getMessage();
        if (f instanceof AssertionError && (message.contains("AUTH") || message.contains("NOAUTH") || message.contains("NOPERM"))) {
            return new MigratorException(ErrorCode.CANNOT_CONNECT, "the source refused the replica's login: " + message,
                    "check source.user and source.password; the user needs the PSYNC and REPLCONF commands", f);
        }
        if (f instanceof java.io.IOException || f instanceof java.io.UncheckedIOException || f instanceof JedisConnectionException) {
            return new MigratorException(ErrorCode.CANNOT_CONNECT, "lost a Redis connection: " + message,
                    "check both servers run, then `migrator run` again: it resumes from the target's checkpoint", f);
        }
        return new MigratorException(ErrorCode.INTERNAL, "the Redis stream failed: " + message, "look at the worker's log, then "
                + "`migrator run` again: it resumes from the target's checkpoint", f);
    }

    @Override
    public MigrationStatus status() {
        Phase p = phase.get();
        long now = System.currentTimeMillis();
        RedisCheckpoint cp = books.checkpoint;
        RedisReplicationReader r = reader;
        MigrationStatus.Lag lag = progress.lag(p, now, r == null ? 0 : r.queued());
        boolean ready = cutoverReady(p, paused.get(), lag.seconds());
        MigrationStatus own = new MigrationStatus(plan.name(), p, paused.get(), new MigrationStatus.Worker(true, listen, startedAt.toString()),
                lag, progress.snapshot(p),
                new MigrationStatus.Applied(appliedEvents.get(), cp == null || cp.offset() < 0 ? "" : cp.position(), progress.eventRate()),
                new MigrationStatus.Throughput(progress.keyRate(), progress.eventRate()), validation, ready, List.copyOf(phases), error,
                writes.retried.get(), Instant.ofEpochMilli(now).toString()).withDegraded(degraded());
        RedisMigration back = reverse;
        return back == null ? own : own.withReverse(back.status());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // what the applier thread asks of the worker

    Phase phase() {
        return phase.get();
    }

    boolean cutoverRunning() {
        return cutovers.running();
    }

    /** A move of the cutover's runbook: checked, journaled first (a move the target does not hold did not happen). */
    Phase cutoverMove(Phase next, String why) {
        phase.get().requireMoveTo(next); // checked before it is journaled
        cutoverJournal(next, why);
        return moveChecked(next);
    }

    /** A phase move of the rollback's, checked. */
    void moveTo(Phase next) {
        moveChecked(next);
    }

    String listenAddress() {
        return listen;
    }

    List<MigrationStatus.PhaseEntry> phaseEntries() {
        return List.copyOf(phases);
    }

    void keepRollbackReport(io.migrator.core.state.CutoverReport report) {
        lastRollback = report;
    }

    String forwardName() {
        return forwardName;
    }

    boolean failing() {
        return failure != null;
    }

    /** The first failure of a stream thread ends the stream (the worker's loop throws it). */
    void failed(Throwable e) {
        if (failure == null) {
            failure = e;
        }
    }

    /** A phase move of the stream's own (a resync): inside a cutover the phase is the cutover's, the event only logged. */
    void streamMove(Phase next, String why) {
        if (inCutover()) {
            LOG.info("{} (phase stays {})", why, phase.get());
            return;
        }
        move(next, why);
    }

    boolean inCutover() {
        Phase p = phase.get();
        return p == Phase.CUTTING_OVER || p == Phase.CUT_OVER;
    }

    /** A move of the state machine (one it does not allow fails loudly, before anything is written), journaled on the target. */
    void move(Phase next, String why) {
        Phase current = moveChecked(next);
        String at = Instant.now().toString();
        phases.add(new MigrationStatus.PhaseEntry(next, at, why));
        books.journal(next, at, why);
        LOG.info("phase {} -> {} ({})", current, next, why);
    }

    private void fail(Exception e) {
        String detail = recordFailure(e);
        stopping.set(true);
        RedisCheckpoint cp = books.checkpoint;
        if (cp == null || cp.phase() == Phase.PREFLIGHT || leaseLost) {
            return; // nothing of this migration is on the target yet, or it is another worker's now: write nothing there
        }
        try (RedisTargetNodes own = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
            RedisBookkeeping.journal(plan, own, Phase.FAILED, Instant.now().toString(), detail); // its own connection: the applier may be in a MULTI
        } catch (RuntimeException ignored) {
            // the target may be what failed
        }
    }

    private static Thread daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void join(Thread t) {
        if (t == null) {
            return;
        }
        try {
            t.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
