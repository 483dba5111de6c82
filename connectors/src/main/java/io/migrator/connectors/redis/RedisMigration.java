package io.migrator.connectors.redis;

import com.moilioncircle.redis.replicator.Configuration;
import com.moilioncircle.redis.replicator.RedisReplicator;
import com.moilioncircle.redis.replicator.Replicator;
import com.moilioncircle.redis.replicator.cmd.CommandName;
import com.moilioncircle.redis.replicator.cmd.impl.DefaultCommand;
import com.moilioncircle.redis.replicator.cmd.impl.SelectCommand;
import com.moilioncircle.redis.replicator.cmd.parser.DefaultCommandParser;
import com.moilioncircle.redis.replicator.event.Event;
import com.moilioncircle.redis.replicator.event.PreCommandSyncEvent;
import com.moilioncircle.redis.replicator.event.PreRdbSyncEvent;
import com.moilioncircle.redis.replicator.rdb.dump.DumpRdbVisitor;
import com.moilioncircle.redis.replicator.rdb.dump.datatype.DumpKeyValuePair;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.run.Rate;
import io.migrator.core.state.History;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import io.migrator.core.state.ValidationReport;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * One Redis migration's worker. It connects to the source as a replica (PSYNC, through redis-replicator): a full sync
 * arrives as one DUMP payload per key, restored on the target with {@code RESTORE key ttl payload REPLACE ABSTTL}; then the
 * replication stream is replayed command by command. Each batch of commands is one MULTI/EXEC on a standalone target,
 * ending with the checkpoint (replication id, offset, selected database), so a batch is applied entirely or not at all and
 * a restart continues with {@code PSYNC replid offset+1}: every write exactly once. On a cluster, a batch is one MULTI/EXEC
 * per slot, each ending with that slot's own offset; commands a slot already holds are stepped over after a restart.
 * <p>
 * When the source cannot continue (its backlog no longer holds the offset), it sends a full sync; keys the target holds
 * that the new full sync does not carry were deleted on the source meanwhile and are removed before the stream goes on.
 */
final class RedisMigration extends io.migrator.core.run.AbstractWorker {
    private static final Logger LOG = LoggerFactory.getLogger(RedisMigration.class);
    private static final long STREAMING_LAG_MILLIS = 2_000;
    private static final int RESTORE_BATCH_KEYS = 2_000;
    private static final long RESTORE_BATCH_BYTES = 8L << 20;
    private static final int COMMAND_BATCH = 2_000;
    private static final long COMMAND_BATCH_BYTES = 8L << 20;
    /** Bytes of payloads and commands held between the replication socket and the target. */
    private static final int QUEUE_KIB = 64 * 1024;

    private final List<Integer> databases;
    private final Predicate<byte[]> keyFilter;
    /**
     * How long a read on a Redis connection may wait (network.readTimeout, at most 60 s: Redis answers at once, and a master
     * pings its replicas every 10 s, so at least 15 s): a half-open connection is then dropped and made again.
     */
    private final Duration timeout;
    private final Rate eventRate = new Rate();
    private final Rate keyRate = new Rate();
    private final Map<Integer, AtomicLong> keysRestored = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<Integer, Long> keysEstimated = new java.util.concurrent.ConcurrentHashMap<>();
    private final AtomicLong staleKeysRemoved = new AtomicLong();
    private final AtomicLong retried = new AtomicLong();
    private volatile Jedis sourceForKeys;
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final ArrayDeque<long[]> masterOffsets = new ArrayDeque<>(); // {millis, offset}, guarded by itself
    private volatile RedisCheckpoint checkpoint;
    /** Whether a checkpoint of this migration was stored on the target (its absence after that means the target lost it). */
    private boolean everStored;
    /** Why the target's checkpoint asks for a full resync ({@link RedisContinuity}); empty when it does not. */
    private String resyncReason = "";
    /** Cluster slots whose offset key holds a resync mark. */
    private final Set<Integer> markedSlots = new java.util.HashSet<>();
    private volatile boolean leaseLost;
    private volatile RedisWorkerLease lease;
    private volatile long fullSyncStartedMillis;
    private volatile boolean fullSyncDone;
    private volatile Long backlogFirstByte;
    private volatile Double writeBytesPerSecond;

    // ---- between the replication socket and the applier ----
    private sealed interface Item permits FullSync, Key, StreamStart, Command {
        int kib();
    }

    private record FullSync() implements Item {
        public int kib() {
            return 1;
        }
    }

    private record Key(int db, byte[] key, byte[] payload, long expireAt) implements Item {
        public int kib() {
            return 1 + (key.length + payload.length) / 1024;
        }
    }

    private record StreamStart(String replId, long offset, boolean full) implements Item {
        public int kib() {
            return 1;
        }
    }

    /** A command of the stream; {@code end} is the replication offset after it. */
    private record Command(byte[][] argv, long end, String name, int kib) implements Item {
        static Command of(byte[][] argv, long end) {
            int bytes = 0;
            for (byte[] a : argv) {
                bytes += a.length;
            }
            return new Command(argv, end, new String(argv[0], StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT), 1 + bytes / 1024);
        }
    }

    private final LinkedBlockingQueue<Item> queue = new LinkedBlockingQueue<>();
    private final Semaphore room = new Semaphore(QUEUE_KIB);
    private final AtomicLong queued = new AtomicLong();
    private volatile Throwable failure;

    // ---- the applier's own state (its thread only) ----
    private RedisTargetNodes target;
    private RedisCommandTable commands;
    private int streamDb = -1;
    private int connectionDb = 0;
    private LongHashSet restoredKeys;
    private final Map<Integer, Long> slotOffsets = new HashMap<>();

    // ---- the cutover (RedisCutover's seams on the shared runbook) ----
    private final io.migrator.core.cutover.CutoverDriver cutovers;
    /** Past the cutover's point of no return: the applier applies nothing more (set by the cutover, acknowledged by the applier). */
    private volatile boolean streamStopped;
    private volatile boolean streamStoppedAck;

    // ---- reverse replication (RedisReverse) ----
    /** Set when this worker is a reverse direction (new server → old source): the forward migration's name. */
    private final String forwardName;
    /** The reverse direction while it streams (this migration cut over), else null. */
    private volatile RedisMigration reverse;
    /** A reverse direction that has streamed from the cutover's fence without a full sync: its parity follows from the fence. */
    private volatile boolean continuous = true;

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
        this.cutovers = new io.migrator.core.cutover.CutoverDriver(plan, new RedisCutover.Source(plan, forwardName != null), new RedisCutover.Target(plan,
                forwardName != null ? forwardName : Plan.reverseName(plan.name())), new CutoverHost());
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
    private volatile RedisCachePolicy policy;

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

    /**
     * Cut over: the reverse direction streams the new server's writes into the old source from the cutover's fence until
     * the worker stops (false) or its cutover, the rollback, is done (true): then this migration streams forward again from
     * the old source's position read at the rollback's fence. Without a reverse direction: status until stopped (false).
     */
    private boolean followReverse(AtomicBoolean stop) {
        streamStopped = true;
        if (forwardName == null && !plan.cutover().reverse() && !plan.cutover().rollbackCache().isEmpty()) {
            return followPolicy(stop);
        }
        java.util.Optional<String> from = forwardName == null && plan.cutover().reverse() ? recordedReverseFrom() : java.util.Optional.empty();
        if (from.isEmpty()) {
            LOG.info("migration {} is cut over: the forward stream has ended{}; the worker serves status until it is stopped", plan.name(),
                    forwardName != null ? " (this is a reverse direction: rolled back)" : plan.cutover().reverse()
                            ? " and the cutover recorded no position a reverse stream could start at" : " (cutover.reverse: false)");
            while (!stop.get()) {
                sleep(200);
            }
            return false;
        }
        Plan reversed = plan.reversed();
        while (!stop.get()) {
            try {
                if ("cut-over".equals(RedisReverse.state(reversed))) {
                    forwardAgain(reversed); // rolled back, and this worker stopped before it streamed forward again
                    return true;
                }
                if (RedisReverse.seed(reversed, from.get())) {
                    RedisCutover.forgetAcl(reversed); // a rollback's lasting freeze, given back at this cutover's admit step
                    LOG.info("reverse replication {} -> {} as {}, from the cutover's fence at {}", plan.target().address(),
                            plan.source().address(), reversed.name(), from.get());
                }
                RedisMigration back = new RedisMigration(reversed, plan.name());
                back.listen = listen;
                if (runReverse(back, stop)) {
                    forwardAgain(reversed);
                    return true;
                }
                return false;
            } catch (MigratorException | JedisConnectionException | JedisDataException e) {
                if (stop.get()) {
                    return false;
                }
                LOG.warn("reverse replication stopped: {}; starting it again in 10 s", e.getMessage());
                for (int i = 0; i < 100 && !stop.get(); i++) {
                    sleep(100);
                }
            }
        }
        return false;
    }

    /**
     * Cut over with a rollback policy and no reverse stream: until the worker stops (false) or `migrator rollback` has sent
     * the application back to the old cache (true): then the new server syncs in full from it. A rollback a restart finds
     * interrupted is undone (before its point of no return) or finished (after), as a cutover is.
     */
    private boolean followPolicy(AtomicBoolean stop) {
        LOG.info("migration {} is cut over; no reverse stream (rollback.cache: {}): a rollback sends the application back to the old "
                + "cache without the new server's writes", plan.name(), plan.cutover().rollbackCache());
        RedisCachePolicy p = new RedisCachePolicy(plan, this::status);
        policy = p;
        try {
            String state = p.recover();
            if ("cut-over".equals(state)) {
                forwardAgainInFull(p);
                return true;
            }
            if (state != null) {
                p.driver.recover(); // before its point of no return: undone here; after: finished on the cutover thread
            }
            while (!stop.get()) {
                if (p.done()) {
                    forwardAgainInFull(p);
                    return true;
                }
                sleep(100);
            }
            p.driver.await();
            return false;
        } finally {
            lastRollback = p.driver.report().orElse(lastRollback);
            policy = null;
            p.close();
        }
    }

    /**
     * After a rollback under rollback.cache: the checkpoint marked for a full resync (first: a restart before the rest
     * syncs in full too), ROLLED_BACK journaled and the cutover state cleared, then what the rollback's admit step gave
     * back and its state on the old source removed. The new server's keys the old cache lacks go in the resync.
     */
    private void forwardAgainInFull(RedisCachePolicy p) {
        String why = "rolled back under rollback.cache: " + plan.cutover().rollbackCache() + " (no reverse stream carried the new server's "
                + "writes back)";
        RespConnection node = checkpointNode();
        RedisTargetNodes.send(node, new byte[][] {bytes("HSET"), bytes(RedisCheckpoint.key(plan.name())), bytes(RedisCheckpoint.RESYNC),
            bytes(why)});
        if (node.getOne() instanceof JedisDataException e) {
            throw e;
        }
        resyncReason = why;
        fullSyncDone = false; // not STREAMING before the full sync has run
        cutoverJournal(Phase.ROLLED_BACK, "rolled back: the old cache takes the application's writes again (rollback.cache: "
                + plan.cutover().rollbackCache() + "); the new server syncs in full from it");
        phase.set(Phase.CATCH_UP);
        RedisCutover.forgetAcl(plan); // the cutover's lasting freeze, given back at the rollback's admit step
        LOG.info("the rollback is done with: {}", RedisReverse.forgetStream(p.reversed()));
    }

    /** The new server's position this migration's last cutover recorded (its journal's REVERSE_FROM entry). */
    private java.util.Optional<String> recordedReverseFrom() {
        String found = null;
        for (MigrationStatus.PhaseEntry e : List.copyOf(phases)) {
            if (e.detail().startsWith(io.migrator.core.cutover.Runbook.STARTED)) {
                found = null;
            } else if (e.detail().startsWith(io.migrator.core.cutover.Runbook.REVERSE_FROM)) {
                found = e.detail().substring(io.migrator.core.cutover.Runbook.REVERSE_FROM.length());
            }
        }
        return java.util.Optional.ofNullable(found);
    }

    /** Runs the reverse worker on its own thread until this worker stops (false) or the rollback is done (true). */
    private boolean runReverse(RedisMigration back, AtomicBoolean stop) {
        reverse = back;
        try {
            return runReverse(back, () -> back.phase.get() == Phase.CUT_OVER && back.cutovers.idle(), stop);
        } finally {
            reverse = null; // status is this migration's own again
        }
    }

    /**
     * After the rollback: this migration's checkpoint set to the old source's position read at the rollback's fence (first:
     * a restart before the rest finds it there), ROLLED_BACK journaled and the cutover state cleared, then what the
     * rollback's admit step gave back and the reverse direction's stream state removed. The stream starts there.
     */
    private void forwardAgain(Plan reversed) {
        String from = RedisReverse.recordedFrom(reversed).orElseThrow(() -> new MigratorException(ErrorCode.CUTOVER_FAILED, "the rollback "
                + "of " + plan.name() + " recorded no position on the old source to stream forward from", "look at the worker's log; "
                + "`migrator complete` and a fresh migration start over"));
        int colon = from.lastIndexOf(':');
        checkpoint = new RedisCheckpoint(from.substring(0, colon), Long.parseLong(from.substring(colon + 1)), 0, Phase.CATCH_UP,
                appliedEvents.get(), checkpoint.keysRestored(), "partial", Instant.now().toString());
        streamDb = 0;
        writeCheckpoint(checkpoint);
        cutoverJournal(Phase.ROLLED_BACK, "rolled back: the old source takes the application's writes again; streaming forward from "
                + from);
        phase.set(Phase.CATCH_UP);
        cutoverJournal(Phase.CATCH_UP, "forward again from the old source at " + from + ", ready for another cutover");
        RedisCutover.forgetAcl(plan); // the cutover's lasting freeze, given back at the rollback's admit step
        LOG.info("the reverse direction is done with: {}", RedisReverse.forgetStream(reversed));
    }

    /** The applier passed {@code position} (a replication offset): everything the source had then is on the target. */
    @Override
    public io.migrator.core.spi.Fence fence() {
        return (position, wait) -> {
            long goal = Long.parseLong(position.text());
            long deadline = System.nanoTime() + wait.toNanos();
            do {
                RedisCheckpoint cp = checkpoint;
                if (cp != null && cp.offset() >= goal) {
                    return true;
                }
                Thread.sleep(5);
            } while (System.nanoTime() < deadline);
            return false;
        };
    }

    /** What the runbook reads and writes through this worker: status, the fence, the journal, the stream's end. */
    private final class CutoverHost implements io.migrator.core.cutover.Runbook.Host {
        private final io.migrator.core.apply.ChangedKeys none = new io.migrator.core.apply.ChangedKeys(1);

        @Override
        public MigrationStatus status() {
            return RedisMigration.this.status();
        }

        @Override
        public List<io.migrator.core.schema.TableDef> tables() {
            return List.of(); // key parity is the validation's: the runbook has no rows to hash
        }

        @Override
        public io.migrator.core.apply.ChangedKeys changedKeys() {
            return none;
        }

        @Override
        public io.migrator.core.spi.Fence fence() {
            return RedisMigration.this.fence();
        }

        @Override
        public void move(Phase next, String why) {
            cutoverJournal(next, why); // first: a move the target does not hold did not happen
            Phase current = phase.getAndSet(next);
            LOG.info("phase {} -> {} ({})", current, next, why);
        }

        @Override
        public void journal(String detail) {
            cutoverJournal(phase.get(), detail);
        }

        @Override
        public void stopStream() {
            streamStopped = true;
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!streamStoppedAck && System.nanoTime() < deadline && failure == null) {
                sleep(5);
            }
            if (!streamStoppedAck) {
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
            return forwardName != null;
        }

        @Override
        public String validationWaiver() {
            return forwardName != null && continuous ? "a rollback: parity held at the cutover's fence, and the reverse stream has carried "
                    + "every write since from that very position (a partial resync, no full sync)" : null;
        }

        @Override
        public String oppositeDirection() {
            return forwardName != null ? forwardName : plan.cutover().reverse() ? Plan.reverseName(plan.name()) : null;
        }
    }

    /** The cutover's journal and state on the target, on its own connection (the applier's belongs to the applier thread). */
    private final RedisCutoverJournal cutoverJournal;

    /** A cutover journal entry, durably on the target (a failure is thrown), then in status and the point-of-no-return tracking. */
    private void cutoverJournal(Phase p, String detail) {
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
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            RedisCheckpoint cp = checkpoint;
            if (cp != null && cp.offset() >= goal) {
                return true;
            }
            sleep(50);
        }
        return false;
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
            target = new RedisTargetNodes(plan.target(), timeout);
            checkpoint = loadCheckpoint();
            readJournal();
            if (checkpoint == null) {
                requireEmptyTarget();
                checkpoint = new RedisCheckpoint("?", -1, -1, Phase.PREFLIGHT, 0, 0, "none", Instant.now().toString());
            } else {
                LOG.info("resuming migration {} from {} (phase {})", plan.name(), checkpoint.position(), checkpoint.phase());
                everStored = true;
                phase.set(checkpoint.phase());
                appliedEvents.set(checkpoint.events());
                streamDb = checkpoint.db();
                if (target.cluster()) {
                    loadSlotOffsets();
                }
                resyncReason = checkpoint.needsResync() ? checkpoint.resync() : markedSlots.isEmpty() ? ""
                        : "the target lost or refused writes to " + markedSlots.size() + " cluster slot(s)";
                if (!resyncReason.isEmpty()) {
                    LOG.warn("the target's checkpoint of {} asks for a full resync: {}", plan.name(), resyncReason);
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
                if (phase.get() == Phase.CUT_OVER && !followReverse(stop)) {
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
            if (target != null) {
                target.close();
            }
            if (sourceForKeys != null) {
                sourceForKeys.close();
            }
            if (lease != null) {
                lease.close(); // last: until the failure is recorded, no other worker may claim the migration
            }
            MDC.remove("migration");
        }
    }

    /**
     * The stream from the target's checkpoint until the worker stops (false) or the migration is cut over (true: past the
     * point of no return nothing more is applied, and the reverse direction follows; a reverse direction's cutover is the
     * rollback, and its worker ends with it).
     */
    private boolean stream(AtomicBoolean stop) {
        AtomicBoolean ended = new AtomicBoolean(); // this stream's own end: the worker's stop, or the cutover
        Thread sampler = null;
        Thread applier = null;
        Replicator replicator = null;
        failure = null;
        streamStopped = false;
        streamStoppedAck = false;
        try {
            SourceFacts facts = sourceFacts();
            commands = facts.commands();
            sampler = daemon("status-sampler", () -> sampleLoop(ended));
            // a source that restarts or fails over is reconnected for network.maxOutage (one attempt a second), not 10 s
            Configuration configuration = Configuration.defaultSetting()
                    .setRetries((int) Math.max(10, Math.min(Integer.MAX_VALUE, plan.network().maxOutage().toSeconds())))
                    .setRetryTimeInterval(1000)
                    .setConnectionTimeout((int) timeout.toMillis()).setReadTimeout((int) timeout.toMillis())
                    .setUseDefaultExceptionListener(false).setHeartbeatPeriod(1000).setAsyncCachedBytes(4 << 20);
            if (!plan.source().user().isEmpty()) {
                configuration.setAuthUser(plan.source().user());
            }
            if (!plan.source().password().isEmpty()) {
                configuration.setAuthPassword(plan.source().password().reveal());
            }
            if (plan.source().tls().mode() != io.migrator.core.plan.Tls.Mode.DISABLE) {
                io.migrator.core.tls.TlsMaterial tls = io.migrator.core.tls.TlsMaterial.of(plan.source().tls());
                configuration.setSsl(true).setSslSocketFactory(tls.socketFactory()).setSslParameters(tls.parameters());
            }
            if (checkpoint.offset() >= 0 && !"?".equals(checkpoint.replId()) && fullSyncDoneBefore() && resyncReason.isEmpty()) {
                configuration.setReplId(checkpoint.replId()).setReplOffset(checkpoint.offset());
            }
            replicator = new RedisReplicator(plan.source().host(), plan.source().port(), configuration);
            replicator.setRdbVisitor(facts.payloadVersion() < 0 ? new DumpRdbVisitor(replicator, new FastDumpValueVisitor(replicator))
                    : new DumpRdbVisitor(replicator, facts.payloadVersion(), 512)); // 512: the first buffer of a payload (default 8 KB a key)
            for (String name : commands.names()) {
                replicator.addCommandParser(CommandName.name(name), new DefaultCommandParser());
            }
            for (String name : List.of("PING", "SELECT", "MULTI", "EXEC", "PUBLISH", "REPLCONF")) {
                replicator.addCommandParser(CommandName.name(name), new DefaultCommandParser());
            }
            boolean[] fullSeen = {false};
            Replicator r = replicator;
            replicator.addEventListener((rep, event) -> receive(event, r, configuration, fullSeen));
            replicator.addExceptionListener((rep, e, event) -> {
                if (failure == null) {
                    failure = e;
                }
                LOG.debug("replication listener failed", e);
            });
            applier = daemon("redis-applier", () -> applyLoop(ended));
            Thread replication = daemon("redis-replication", () -> {
                try {
                    r.open();
                    if (!ended.get() && failure == null) {
                        failure = new MigratorException(ErrorCode.CANNOT_CONNECT, "lost the replication link to the source at "
                                + plan.source().address() + " and could not get it back after 10 attempts",
                                "check that the source runs and accepts this replica (see its log), then `migrator run` again: it "
                                        + "resumes from the target's checkpoint");
                    }
                } catch (Throwable e) {
                    if (failure == null) {
                        failure = e;
                    }
                }
            });
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
            if (replicator != null) {
                try {
                    replicator.close();
                } catch (java.io.IOException | RuntimeException ignored) {
                    // closing anyway
                }
            }
            join(applier);
            if (sampler != null) {
                sampler.interrupt();
            }
            queue.clear(); // what the stream read past the point of no return is never applied
            room.drainPermits();
            room.release(QUEUE_KIB);
            queued.set(0);
        }
    }

    private boolean fullSyncDoneBefore() {
        Phase p = checkpoint.phase();
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

    /** On the replication thread: hands events to the applier, holding at most {@link #QUEUE_KIB} of them. */
    private void receive(Event event, Replicator replicator, Configuration configuration, boolean[] fullSeen) {
        Item item = null;
        if (event instanceof PreRdbSyncEvent) {
            fullSeen[0] = true;
            item = new FullSync();
        } else if (event instanceof DumpKeyValuePair kv) {
            item = new Key((int) kv.getDb().getDbNumber(), kv.getKey(), kv.getValue(), kv.getExpiredMs() == null ? -1 : kv.getExpiredMs());
        } else if (event instanceof PreCommandSyncEvent) {
            item = new StreamStart(configuration.getReplId(), configuration.getReplOffset(), fullSeen[0]);
            fullSeen[0] = false;
        } else if (event instanceof DefaultCommand c) {
            byte[][] argv = new byte[c.getArgs().length + 1][];
            argv[0] = c.getCommand();
            System.arraycopy(c.getArgs(), 0, argv, 1, c.getArgs().length);
            item = Command.of(argv, c.getContext().getOffsets().getV2());
        } else if (event instanceof SelectCommand s) {
            long at = s.getContext().getOffsets() == null ? configuration.getReplOffset() : s.getContext().getOffsets().getV2();
            item = Command.of(RedisTargetNodes.argv("SELECT", Integer.toString(s.getIndex())), at);
        }
        if (item == null) {
            return;
        }
        int kib = Math.min(item.kib(), QUEUE_KIB);
        try {
            while (!room.tryAcquire(kib, 200, TimeUnit.MILLISECONDS)) {
                if (failure != null || stopping.get()) {
                    throw new IllegalStateException("the applier stopped");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        }
        queued.incrementAndGet();
        queue.add(item);
    }

    private Item take(AtomicBoolean stop) throws InterruptedException {
        return take(stop, false);
    }

    /** The next item; {@code top}: called between batches (the stream's end may be acknowledged there). */
    private Item take(AtomicBoolean stop, boolean top) throws InterruptedException {
        while (!stop.get()) {
            // inside a cutover the fence waits for the last batch's confirmation: an idle applier confirms it sooner
            Item item = queue.poll(cutovers.running() ? 5 : 100, TimeUnit.MILLISECONDS);
            if (item != null) {
                room.release(Math.min(item.kib(), QUEUE_KIB));
                queued.decrementAndGet();
                return item;
            }
            drainInFlight();
            if (top && streamStopped) {
                streamStoppedAck = true; // between batches, the last one confirmed: nothing more is applied
            }
            maybeStreaming(); // an idle source sends nothing for seconds: the phase still follows the lag
        }
        return null;
    }

    /** On the applier thread: CATCH_UP becomes STREAMING once the target is within a couple of seconds of the source. */
    private void maybeStreaming() {
        if (phase.get() == Phase.CATCH_UP && fullSyncDone && queue.isEmpty() && !masterOffsets.isEmpty()
                && lagMillis(System.currentTimeMillis()) < STREAMING_LAG_MILLIS) {
            move(Phase.STREAMING, "caught up");
            checkpoint = checkpoint.with(Phase.STREAMING, appliedEvents.get(), checkpoint.keysRestored(), checkpoint.sync());
            if (inFlight == null) {
                writeCheckpoint(checkpoint); // an idle source may send nothing for a while: store the phase now
            }
        }
    }

    private Item poll() {
        Item item = queue.poll();
        if (item != null) {
            room.release(Math.min(item.kib(), QUEUE_KIB));
            queued.decrementAndGet();
        }
        return item;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // the applier

    private void applyLoop(AtomicBoolean stop) {
        MDC.put("migration", plan.name());
        List<Key> restores = new ArrayList<>();
        long restoreBytes = 0;
        Item pending = null;
        try {
            while (!stop.get()) {
                Item item = pending != null ? pending : take(stop, true);
                pending = null;
                if (item == null) {
                    break;
                }
                if (streamStopped) {
                    drainInFlight();
                    streamStoppedAck = true; // past the point of no return: nothing more reaches the opened target
                    continue;
                }
                while (paused.get() && !stop.get()) {
                    sleep(100);
                }
                if (!(item instanceof Command)) {
                    drainInFlight(); // keys and the stream's start use the connection on their own
                }
                if (item instanceof FullSync) {
                    restores.clear(); // keys of a copy that broke off: the new copy brings what still exists
                    restoreBytes = 0;
                    restore(List.of(), true); // replies still in flight
                    startFullSync();
                } else if (item instanceof Key key) {
                    restores.add(key);
                    restoreBytes += key.payload().length;
                    if (restores.size() >= RESTORE_BATCH_KEYS || restoreBytes >= RESTORE_BATCH_BYTES || queue.isEmpty()) {
                        restore(restores, false);
                        restores.clear();
                        restoreBytes = 0;
                    }
                } else if (item instanceof StreamStart start) {
                    restore(restores, true);
                    restores.clear();
                    restoreBytes = 0;
                    startStream(start);
                } else if (item instanceof Command first) {
                    List<Command> batch = new ArrayList<>();
                    batch.add(first);
                    long bytes = first.kib();
                    boolean inMulti = first.name().equals("MULTI");
                    while (batch.size() < COMMAND_BATCH && bytes * 1024 < COMMAND_BATCH_BYTES || inMulti) {
                        Item next = inMulti ? take(stop) : poll();
                        if (next == null) {
                            break;
                        }
                        if (!(next instanceof Command c)) {
                            pending = next;
                            break;
                        }
                        batch.add(c);
                        bytes += c.kib();
                        if (c.name().equals("MULTI")) {
                            inMulti = true;
                        } else if (c.name().equals("EXEC")) {
                            inMulti = false;
                        }
                    }
                    if (stop.get() && inMulti) {
                        break; // a source transaction cut by the stop: nothing of it is applied, the restart reads it again
                    }
                    if (streamStopped) {
                        drainInFlight();
                        streamStoppedAck = true; // past the point of no return: this batch is not applied
                        continue;
                    }
                    applyCommands(batch);
                }
            }
            drainInFlight(); // stopping: the last batch's reply, so status ends at what the target holds
        } catch (Throwable e) {
            if (failure == null) {
                failure = e;
            }
        }
    }

    /** A full sync begins: from here until the stream starts, keys arrive as DUMP payloads. */
    private void startFullSync() {
        if (inCutover()) {
            // a full resync restores and reconciles every key: on a target the application may already write to, it would
            // overwrite and delete the application's writes
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, "the source's backlog no longer holds the stream of " + plan.name()
                    + " and it sent a full sync during the cutover: a full resync now would overwrite the application's writes on "
                    + "the target", "finish the move by hand (the old source is paused or its application users read-only: switch the "
                    + "application, then `migrator complete`), or undo it by pointing the application back at the old source");
        }
        boolean again = checkpoint.phase() != Phase.PREFLIGHT;
        continuous = false; // a reverse direction synced in full: its parity is no longer the fence's
        restoredKeys = again ? new LongHashSet() : null;
        keysRestored.clear();
        fullSyncStartedMillis = System.currentTimeMillis();
        fullSyncDone = false;
        try (Jedis source = RedisConnector.connect(plan.source(), Duration.ofSeconds(10))) {
            Map<String, String> keyspace = RedisConnector.parseInfo(source.info("keyspace"));
            for (int db : databases) {
                String line = keyspace.getOrDefault("db" + db, "keys=0");
                keysEstimated.put(db, Long.parseLong(line.replaceAll("^keys=(\\d+).*$", "$1")));
            }
        } catch (RuntimeException e) {
            LOG.debug("could not read the source keyspace: {}", e.toString());
        }
        String why;
        if (!again) {
            why = "full sync from the source";
        } else if (!resyncReason.isEmpty()) {
            why = "full resync: " + resyncReason + "; keys the target holds that the new copy lacks will be removed";
        } else if (checkpoint.phase() == Phase.SNAPSHOT || checkpoint.offset() < 0) {
            why = "full resync: the previous full sync did not finish; keys the target holds that the new copy lacks will be removed";
        } else {
            why = "full resync: the source could not continue from " + checkpoint.position() + " (its backlog no longer holds it); "
                    + "keys the target holds that the new copy lacks will be removed";
        }
        move(Phase.SNAPSHOT, why);
        checkpoint = checkpoint.with(Phase.SNAPSHOT, appliedEvents.get(), 0, again ? "full (resync)" : "full");
        writeCheckpoint(checkpoint);
        if (!resyncReason.isEmpty()) { // the phase says SNAPSHOT now: a restart syncs in full anyway
            RespConnection node = checkpointNode();
            RedisTargetNodes.send(node, new byte[][] {bytes("HDEL"), bytes(RedisCheckpoint.key(plan.name())), bytes(RedisCheckpoint.RESYNC)});
            node.getOne();
            resyncReason = "";
        }
    }

    /** Restores sent whose replies are not read yet (one batch stays in flight, so the target never waits for us). */
    private final List<Key> unread = new ArrayList<>();
    private Map<RespConnection, List<byte[][]>> unreadByNode = new LinkedHashMap<>();
    private boolean resendUnread;

    /**
     * RESTORE ... REPLACE ABSTTL, pipelined per node, with two batches in flight: this batch is sent before the previous
     * one's replies are read, so the target restores one while the next is built. {@code drain} reads everything (before
     * the stream starts, or another full sync). RESTORE REPLACE is idempotent: after a lost connection both batches are
     * sent again.
     */
    private void restore(List<Key> keys, boolean drain) {
        if (keys.isEmpty() && unread.isEmpty()) {
            return;
        }
        fenceLease();
        List<Key> batch = List.copyOf(keys);
        long now = System.currentTimeMillis();
        withRetry("restoring " + (batch.size() + unread.size()) + " keys", () -> {
            try {
                if (resendUnread) {
                    List<Key> again = new ArrayList<>(unread);
                    again.addAll(batch);
                    connectionDb = 0; // new connections
                    Map<RespConnection, List<byte[][]>> all = encodeRestores(again, now);
                    all.keySet().forEach(RespConnection::flush);
                    readRestores(all);
                    unread.clear();
                    unreadByNode = new LinkedHashMap<>();
                    resendUnread = false;
                    return;
                }
                Map<RespConnection, List<byte[][]>> sent = encodeRestores(batch, now);
                sent.keySet().forEach(RespConnection::flush);
                readRestores(unreadByNode);
                unread.clear();
                unread.addAll(batch);
                unreadByNode = sent;
                if (drain) {
                    readRestores(unreadByNode);
                    unread.clear();
                    unreadByNode = new LinkedHashMap<>();
                }
            } catch (JedisConnectionException e) {
                resendUnread = true;
                throw e;
            }
        });
        throttle();
        for (Key k : batch) {
            if (restorable(k, now)) { // an expired key is not restored: a full resync then removes a stale copy of it
                keysRestored.computeIfAbsent(k.db(), d -> new AtomicLong()).incrementAndGet();
                if (restoredKeys != null) {
                    restoredKeys.add(LongHashSet.hash(k.db(), k.key()));
                }
            }
        }
    }

    /** Queues the RESTOREs of these keys on their nodes (SELECTs followed on a standalone target); returns what was queued. */
    /** A key of the plan's databases and patterns, not bookkeeping, not expired already (the source no longer serves it). */
    private boolean restorable(Key k, long now) {
        return databases.contains(k.db()) && !RedisCheckpoint.bookkeeping(k.key()) && keyFilter.test(k.key())
                && (k.expireAt() < 0 || k.expireAt() > now);
    }

    private Map<RespConnection, List<byte[][]>> encodeRestores(List<Key> keys, long now) {
        Map<RespConnection, List<byte[][]>> byNode = new LinkedHashMap<>();
        for (Key k : keys) {
            if (!restorable(k, now)) {
                continue;
            }
            RespConnection node = target.node(target.slot(k.key()));
            List<byte[][]> out = byNode.computeIfAbsent(node, n -> new ArrayList<>());
            if (!target.cluster() && connectionDb != k.db()) {
                byte[][] select = RedisTargetNodes.argv("SELECT", Integer.toString(k.db()));
                out.add(select);
                node.send(select);
                connectionDb = k.db();
            }
            byte[][] argv = k.expireAt() >= 0
                    ? new byte[][] {RESTORE, k.key(), bytes(Long.toString(k.expireAt())), k.payload(), REPLACE, ABSTTL}
                    : new byte[][] {RESTORE, k.key(), ZERO, k.payload(), REPLACE};
            out.add(argv);
            node.send(argv);
        }
        return byNode;
    }

    private void readRestores(Map<RespConnection, List<byte[][]>> sent) {
        for (Map.Entry<RespConnection, List<byte[][]>> e : sent.entrySet()) {
            List<Object> replies = e.getKey().getMany(e.getValue().size());
            for (int i = 0; i < replies.size(); i++) {
                if (replies.get(i) instanceof JedisDataException d) {
                    throw refusedRestore(e.getValue().get(i), d);
                }
            }
        }
    }

    private static final byte[] RESTORE = bytes("RESTORE");
    private static final byte[] REPLACE = bytes("REPLACE");
    private static final byte[] ABSTTL = bytes("ABSTTL");
    private static final byte[] ZERO = bytes("0");

    /**
     * {@code snapshot.maxRowsPerSecond} counts keys here: the restore waits so the full sync stays under it. The source's
     * output buffer for this replica grows meanwhile (client-output-buffer-limit replica): a limit far below the write rate
     * makes the source drop the replica, and the full sync starts over.
     */
    private void throttle() {
        long limit = plan.snapshot().maxRowsPerSecond();
        if (limit <= 0 || fullSyncStartedMillis == 0) {
            return;
        }
        long restored = keysRestored.values().stream().mapToLong(AtomicLong::get).sum();
        long due = fullSyncStartedMillis + restored * 1000 / limit;
        long wait = due - System.currentTimeMillis();
        if (wait > 0) {
            sleep(wait);
        }
    }

    private RuntimeException refusedRestore(byte[][] argv, JedisDataException e) {
        String message = e.getMessage() == null ? "" : e.getMessage();
        if (redirect(message)) {
            return new JedisConnectionException("the cluster moved slots: " + message); // retried after reading the slot map again
        }
        String key = RedisKeyParity.display(new String(argv[1], StandardCharsets.ISO_8859_1));
        if (message.contains("payload version") || message.contains("DUMP payload")) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the target refused the DUMP payload of key " + key + ": " + message,
                    "the target's Redis is older than the source's: check `migrator plan check` (target version); payloads are re-encoded "
                            + "for the target's RDB version, but module types and newer encodings cannot be", e);
        }
        if (message.startsWith("OOM")) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the target is out of memory (maxmemory) while restoring key " + key,
                    "give the target more memory (a larger node type or more shards), then `migrator run` again", e);
        }
        return new MigratorException(ErrorCode.INTERNAL, "the target refused RESTORE of key " + key + ": " + message,
                "look at the target's log; then `migrator run` again", e);
    }

    /** The stream begins after a full sync (its offset is the copy's) or continues a partial resync. */
    private void startStream(StreamStart start) {
        if (start.full()) {
            if (restoredKeys != null) {
                long removed = reconcile();
                staleKeysRemoved.addAndGet(removed);
                LOG.info("full resync: removed {} keys the source no longer holds ({} keys restored)", removed, restoredKeys.size());
            }
            restoredKeys = null;
            fullSyncDone = true;
            long restored = keysRestored.values().stream().mapToLong(AtomicLong::get).sum();
            streamDb = -1;
            checkpoint = new RedisCheckpoint(start.replId(), start.offset(), -1, Phase.CATCH_UP, appliedEvents.get(), restored,
                    checkpoint.sync(), Instant.now().toString());
            if (target.cluster()) {
                clearSlotKeys();
            } else {
                slotOffsets.clear();
            }
            writeCheckpoint(checkpoint);
            streamMove(Phase.CATCH_UP, restored + " keys restored; streaming from " + checkpoint.position());
        } else {
            fullSyncDone = true;
            LOG.info("partial resync: the source continues from {}:{}", start.replId(), start.offset());
            if (!start.replId().equals(checkpoint.replId())) {
                checkpoint = checkpoint.at(start.replId(), checkpoint.offset(), checkpoint.db());
            }
            checkpoint = checkpoint.with(Phase.CATCH_UP, appliedEvents.get(), checkpoint.keysRestored(), "partial");
            streamMove(Phase.CATCH_UP, "partial resync from " + start.replId() + ":" + start.offset() + ": the source's backlog still held it");
        }
    }

    /** After a full resync: deletes target keys (of the plan's databases and patterns) the new copy did not carry. */
    private long reconcile() {
        long removed = 0;
        for (RespConnection node : target.masters()) {
            for (int db : target.cluster() ? List.of(0) : databases) {
                if (!target.cluster()) {
                    RedisTargetNodes.send(node, RedisTargetNodes.argv("SELECT", Integer.toString(db)));
                    node.getOne();
                    connectionDb = db;
                }
                byte[] cursor = bytes("0");
                do {
                    RedisTargetNodes.send(node, new byte[][] {bytes("SCAN"), cursor, bytes("COUNT"), bytes("1000")});
                    List<?> reply = (List<?>) node.getOne();
                    cursor = (byte[]) reply.get(0);
                    List<byte[][]> deletes = new ArrayList<>();
                    for (Object k : (List<?>) reply.get(1)) {
                        byte[] key = (byte[]) k;
                        if (!RedisCheckpoint.bookkeeping(key) && keyFilter.test(key) && !restoredKeys.contains(LongHashSet.hash(db, key))) {
                            deletes.add(new byte[][] {bytes("UNLINK"), key});
                        }
                    }
                    for (byte[][] d : deletes) {
                        RedisTargetNodes.send(node, d);
                    }
                    if (!deletes.isEmpty()) {
                        node.getMany(deletes.size());
                    }
                    removed += deletes.size();
                } while (!Arrays.equals(cursor, bytes("0")));
            }
        }
        return removed;
    }

    /**
     * Before a write: this worker still surely holds the claim. Redis has no session lock to fence a batch with, so a worker
     * that lost the claim, or was paused past the point where another could take it, stops here instead of writing.
     */
    private void fenceLease() {
        RedisWorkerLease held = lease;
        long backoff = 200;
        boolean waited = false;
        while (true) {
            if (leaseLost) { // nor is its failure written over what another worker may have stored meanwhile
                throw new MigratorException(ErrorCode.WORKER_RUNNING, "migration " + plan.name() + "'s claim on the target was taken by "
                        + "another worker; this worker stops before writing more", "follow the other worker with `migrator status PLAN`, "
                        + "or run `migrator run` again: it resumes from the target's checkpoint");
            }
            if (held == null || held.fresh()) {
                if (waited) {
                    retry.recovered();
                }
                return;
            }
            // the target did not answer the renewals lately (or this process was paused): no write until the claim is confirmed
            // this worker's again, waited out as an outage (degraded) for network.maxOutage; the applier's own connection may
            // be back first (a half-open one is replaced sooner than the claim's), and must not end the worker meanwhile
            if (stopping.get()) {
                throw new MigratorException(ErrorCode.CANNOT_CONNECT, "the claim on the target could not be confirmed before the stop",
                        "`migrator run` again: it resumes from the target's checkpoint");
            }
            JedisConnectionException stale = new JedisConnectionException("the claim on the target has not been renewed for "
                    + (RedisWorkerLease.TTL_MILLIS - RedisWorkerLease.STOP_MARGIN_MILLIS) / 1000 + " s (the target does not answer): "
                    + "no write until it is");
            sleep(retry.failed("confirming the claim on the target", lostTarget("confirming the claim", stale), backoff));
            backoff = Math.min(backoff * 2, 2_000);
            waited = true;
        }
    }

    /** Applies one batch of stream commands with its checkpoint, exactly once. */
    /** A standalone batch sent, its EXEC reply not read yet: the target runs it while the next one is built. */
    private record InFlight(List<Command> commands, List<byte[][]> out, RedisCheckpoint next, int count) {
    }

    private InFlight inFlight;

    /**
     * Applies one batch of stream commands with its checkpoint, exactly once. On a standalone target two batches are in
     * flight: this one is sent before the previous one's EXEC reply is read. Each commits whole with its own checkpoint, so
     * after a lost connection the stored checkpoint says which of them to apply again.
     */
    private void applyCommands(List<Command> batch) {
        fenceLease();
        if (target.cluster()) {
            int dbBefore = streamDb;
            int[] applied = {0};
            withRetry("applying " + batch.size() + " commands", () -> {
                streamDb = dbBefore;
                applied[0] = applyToCluster(batch);
            });
            appliedEvents.addAndGet(applied[0]);
            appliedBatches.incrementAndGet();
            maybeStreaming();
            return;
        }
        InFlight before = inFlight;
        List<List<Command>> candidates = before == null ? List.of(batch) : List.of(before.commands(), batch);
        try {
            inFlight = sendStandalone(batch, before != null ? before.next() : checkpoint);
            if (before != null) {
                confirm(before);
            }
        } catch (JedisConnectionException e) {
            recoverStandalone(candidates, e);
        }
        maybeStreaming();
    }

    /**
     * Sends one MULTI/EXEC (the commands, SELECTs followed, then the checkpoint in database 0) without reading its replies:
     * {@link #confirm} does, once the next batch is on its way.
     */
    private InFlight sendStandalone(List<Command> batch, RedisCheckpoint base) {
        Command last = batch.get(batch.size() - 1);
        RespConnection node = target.node(0);
        List<byte[][]> out = new ArrayList<>();
        int db = connectionDb;
        if (db != 0) {
            out.add(RedisTargetNodes.argv("SELECT", "0"));
            db = 0;
        }
        out.add(RedisContinuity.begin(RedisCheckpoint.key(plan.name()))); // in database 0, as the checkpoint
        int count = 0;
        for (Command c : batch) {
            String name = c.name();
            switch (name) {
                case "SELECT" -> streamDb = Integer.parseInt(new String(c.argv()[1], StandardCharsets.US_ASCII));
                case "MULTI", "EXEC", "PING", "REPLCONF", "PUBLISH", "SPUBLISH" -> {
                    // our own MULTI/EXEC wraps the batch (a source transaction never spans two batches); pings and
                    // messages are not data
                }
                case "FLUSHALL" -> {
                    requireNoKeyFilter(name);
                    for (int d : databases) { // the plan's databases only: others on the target are not ours
                        out.add(RedisTargetNodes.argv("SELECT", Integer.toString(d)));
                        byte[][] flush = c.argv().clone();
                        flush[0] = bytes("FLUSHDB");
                        out.add(d == 0 ? RedisContinuity.flushKeeping(RedisCheckpoint.key(plan.name()), flush) : flush);
                        db = d;
                    }
                    count++;
                }
                default -> {
                    requireSelected(c);
                    if (!databases.contains(streamDb)) {
                        continue;
                    }
                    if (name.equals("FLUSHDB")) {
                        requireNoKeyFilter(name);
                    }
                    byte[][] argv = filtered(c);
                    if (argv == null) {
                        continue;
                    }
                    if (db != streamDb) {
                        out.add(RedisTargetNodes.argv("SELECT", Integer.toString(streamDb)));
                        db = streamDb;
                    }
                    out.add(db == 0 && name.equals("FLUSHDB") ? RedisContinuity.flushKeeping(RedisCheckpoint.key(plan.name()), argv) : argv);
                    count++;
                }
            }
        }
        if (db != 0) {
            out.add(RedisTargetNodes.argv("SELECT", "0"));
            db = 0;
        }
        Phase now = phase.get() == Phase.STREAMING || phase.get() == Phase.CATCH_UP ? phase.get() : base.phase();
        RedisCheckpoint next = base.at(base.replId(), last.end(), streamDb)
                .with(now, base.events() + count, base.keysRestored(), base.sync());
        out.add(RedisContinuity.commit(RedisCheckpoint.key(plan.name()), base.offset(), next.fields()));
        RedisTargetNodes.send(node, RedisTargetNodes.argv("MULTI"));
        for (byte[][] argv : out) {
            RedisTargetNodes.send(node, argv);
        }
        RedisTargetNodes.send(node, RedisTargetNodes.argv("EXEC"));
        node.flush();
        connectionDb = db; // 0: every batch ends there
        return new InFlight(batch, out, next, count);
    }

    /** Reads a sent batch's replies; once its EXEC succeeded, its checkpoint is the applied position. */
    private void confirm(InFlight f) {
        checkExec(target.node(0).getMany(f.out().size() + 2), f.out());
        checkpoint = f.next();
        everStored = true;
        appliedEvents.addAndGet(f.count());
        appliedBatches.incrementAndGet();
    }

    /** Reads the replies of the batch still in flight (idle source, before a full sync, at the end). */
    private void drainInFlight() {
        InFlight f = inFlight;
        if (f == null) {
            return;
        }
        try {
            confirm(f);
            inFlight = null;
        } catch (JedisConnectionException e) {
            recoverStandalone(List.of(f.commands()), e);
        }
    }

    /**
     * After a lost connection with batches in flight: reconnects, reads the checkpoint back (it sits at a batch boundary:
     * each batch commits whole), and applies again, one at a time, the batches it does not cover.
     */
    private void recoverStandalone(List<List<Command>> candidates, RuntimeException failure) {
        RuntimeException cause = failure;
        long backoff = 200;
        while (true) {
            if (stopping.get()) {
                throw new MigratorException(ErrorCode.CANNOT_CONNECT, "applying commands on the target at " + plan.target().address()
                        + " was interrupted by the stop: " + cause.getMessage(), "`migrator run` again: it resumes from the target's "
                        + "checkpoint", cause);
            }
            retried.incrementAndGet();
            // waited out for network.maxOutage (status: degraded), then given up with how long it lasted
            sleep(retry.failed("applying commands on the target", lostTarget("applying commands", cause), backoff));
            backoff = Math.min(backoff * 2, 10_000);
            try {
                target.refresh();
                connectionDb = 0;
                inFlight = null;
                RedisCheckpoint stored = loadCheckpoint();
                requireContinuity(stored, null);
                if (stored != null && stored.offset() > checkpoint.offset()) {
                    checkpoint = stored; // committed before the connection broke
                    appliedEvents.set(stored.events());
                }
                streamDb = checkpoint.db();
                for (List<Command> b : candidates) {
                    if (b.get(b.size() - 1).end() <= checkpoint.offset()) {
                        continue;
                    }
                    confirm(sendStandalone(b, checkpoint));
                }
                retry.recovered();
                return;
            } catch (JedisConnectionException again) {
                cause = again;
            }
        }
    }

    /**
     * A cluster: the batch is split by slot; each slot gets one MULTI/EXEC with its commands and its own offset, pipelined
     * per node; commands a slot already holds (after a restart) are stepped over. Commands without keys (FLUSHALL,
     * FUNCTION ...) run alone on every master, between the slot transactions before and after them.
     */
    private int applyToCluster(List<Command> batch) {
        Map<Integer, List<byte[][]>> bySlot = new LinkedHashMap<>();
        Map<Integer, Long> slotEnd = new HashMap<>();
        int count = 0;
        for (Command c : batch) {
            String name = c.name();
            switch (name) {
                case "SELECT" -> streamDb = Integer.parseInt(new String(c.argv()[1], StandardCharsets.US_ASCII));
                case "MULTI", "EXEC", "PING", "REPLCONF", "PUBLISH", "SPUBLISH" -> {
                }
                default -> {
                    requireSelected(c);
                    boolean flushAll = name.equals("FLUSHALL"); // every database of the source, database 0 included
                    if (streamDb != 0 && !flushAll) {
                        continue;
                    }
                    byte[][] argv = filtered(c);
                    if (argv == null) {
                        continue;
                    }
                    List<byte[]> keys = commands.keys(argv);
                    if (keys.isEmpty()) {
                        if (!RedisCommandTable.SERVER_WIDE.contains(name) || name.equals("SWAPDB")) {
                            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the source ran " + name + ", which a cluster target "
                                    + "cannot take (a cluster has database 0 only and routes commands by key)",
                                    "migrate into a standalone target, or stop the application from running " + name + " during the migration; "
                                            + "then start this migration afresh");
                        }
                        if (name.equals("FLUSHALL") || name.equals("FLUSHDB")) {
                            requireNoKeyFilter(name);
                        }
                        commitSlots(bySlot, slotEnd);
                        bySlot.clear();
                        slotEnd.clear();
                        applyEverywhere(argv, c.end());
                        count++;
                        continue;
                    }
                    int slot = target.slot(keys.get(0));
                    boolean oneSlot = keys.stream().allMatch(k -> target.slot(k) == slot);
                    if (oneSlot) {
                        if (c.end() > slotOffset(slot)) {
                            bySlot.computeIfAbsent(slot, k -> new ArrayList<>()).add(argv);
                            slotEnd.put(slot, c.end());
                        }
                    } else {
                        List<byte[][]> parts = RedisCommandTable.split(argv);
                        if (parts == null) {
                            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the source ran " + name + " on keys in different "
                                    + "cluster slots (" + keys.size() + " keys, first " + RedisKeyParity.display(new String(keys.get(0),
                                    StandardCharsets.ISO_8859_1)) + "); a cluster cannot run it atomically across slots",
                                    "give related keys a common hash tag ({user:1}:a, {user:1}:b) so they share a slot, or migrate into a "
                                            + "standalone target; then start this migration afresh");
                        }
                        for (byte[][] part : parts) {
                            int s = target.slot(part[1]); // split parts carry their key first
                            if (c.end() > slotOffset(s)) { // else this slot applied it before the restart
                                bySlot.computeIfAbsent(s, k -> new ArrayList<>()).add(part);
                                slotEnd.put(s, c.end());
                            }
                        }
                    }
                    count++;
                }
            }
        }
        commitSlots(bySlot, slotEnd);
        Command last = batch.get(batch.size() - 1);
        RedisCheckpoint next = checkpoint.at(checkpoint.replId(), Math.max(last.end(), checkpoint.offset()), streamDb)
                .with(checkpoint.phase(), appliedEvents.get() + count, checkpoint.keysRestored(), checkpoint.sync());
        byte[] key = bytes(RedisCheckpoint.key(plan.name()));
        RespConnection node = target.node(target.slot(key));
        byte[][] commit = RedisContinuity.commit(RedisCheckpoint.key(plan.name()), checkpoint.offset(), next.fields());
        RedisTargetNodes.send(node, commit); // written only where the target still holds the last one
        if (node.getOne() instanceof JedisDataException d) {
            if (RedisContinuity.lost(d.getMessage())) {
                throw RedisContinuity.failure(plan.name(), d.getMessage(), null);
            }
            throw refused(commit, d, false);
        }
        checkpoint = next;
        return count;
    }

    /** The offset a slot has applied up to, in this replication history (-1: none). */
    private long slotOffset(int slot) {
        return slotOffsets.getOrDefault(slot, -1L);
    }

    /**
     * A server-wide command (FLUSHALL, FUNCTION LOAD ...) on every master, each in a MULTI/EXEC with the offset of one slot
     * that master owns; a master whose marker already holds the offset ran it before a restart and is skipped.
     */
    private void applyEverywhere(byte[][] argv, long end) {
        for (Map.Entry<RespConnection, Integer> e : target.slotPerMaster().entrySet()) {
            int slot = e.getValue();
            if (end <= slotOffset(slot)) {
                continue;
            }
            List<byte[][]> out = List.of(argv, slotSet(slot, end));
            RespConnection node = e.getKey();
            RedisTargetNodes.send(node, RedisTargetNodes.argv("MULTI"));
            out.forEach(a -> RedisTargetNodes.send(node, a));
            RedisTargetNodes.send(node, RedisTargetNodes.argv("EXEC"));
            checkExec(node.getMany(out.size() + 2), out);
            slotOffsets.put(slot, end);
        }
    }

    /**
     * SET of a slot's offset, tagged with the replication id so a later history never reads it; done only while the slot
     * still holds the offset this worker committed last ({@link RedisContinuity#slotCommit}).
     */
    private byte[][] slotSet(int slot, long end) {
        return RedisContinuity.slotCommit(RedisCheckpoint.slotKey(plan.name(), slot), checkpoint.replId(), slotOffsets.get(slot), end);
    }

    /**
     * Before a new history's first slot transaction: every slot's offset and mark of an earlier one is removed (none may
     * pass for it), whichever replication id it carries: one pipelined DEL per slot, on the node that owns it.
     */
    private void clearSlotKeys() {
        Map<RespConnection, Integer> pending = new LinkedHashMap<>();
        for (int slot = 0; slot < RedisTargetNodes.SLOTS; slot++) {
            RespConnection node = target.node(slot);
            RedisTargetNodes.send(node, RedisTargetNodes.argv("DEL", RedisCheckpoint.slotKey(plan.name(), slot)));
            pending.merge(node, 1, Integer::sum);
        }
        pending.forEach((node, n) -> node.getMany(n));
        slotOffsets.clear();
        markedSlots.clear();
    }

    /**
     * After a reconnect: the target must still hold what this worker committed. Its checkpoint gone while this worker had
     * stored one, or marked, means the target cannot vouch for its keys (a full resync); a checkpoint or a slot behind what
     * this worker committed means the target lost the writes since (a failover to a replica that lagged, a restart from an
     * older snapshot): a standalone target holds a consistent state at its checkpoint, so the next run resumes from there; a
     * cluster's slots on different nodes do not, so it is marked for a full resync.
     */
    private void requireContinuity(RedisCheckpoint stored, Map<Integer, Long> committedSlots) {
        if (stored == null && everStored) {
            String why = "the target no longer holds this migration's checkpoint (it restarted without persistence, or was flushed)";
            markResync(why);
            throw RedisContinuity.failure(plan.name(), "MIGRATORLOST " + why, null);
        }
        if (stored != null && stored.needsResync()) {
            throw RedisContinuity.failure(plan.name(), "MIGRATORLOST " + stored.resync(), null);
        }
        if (committedSlots != null) { // slotOffsets: what the slots hold now
            for (Map.Entry<Integer, Long> e : committedSlots.entrySet()) {
                long now = slotOffsets.getOrDefault(e.getKey(), -1L);
                if (now < e.getValue() || markedSlots.contains(e.getKey())) {
                    String why = "the target lost writes: slot " + e.getKey() + " holds offset " + now + ", the worker had committed "
                            + e.getValue() + " (a failover to a replica that lagged, or a restart from an older snapshot)";
                    markResync(why);
                    throw RedisContinuity.failure(plan.name(), "MIGRATORLOST " + why, null);
                }
            }
        }
        if (stored != null && stored.offset() < checkpoint.offset() && !target.cluster()) {
            throw new MigratorException(ErrorCode.TARGET_LOST, "migration " + plan.name() + ": the target lost writes: its checkpoint is at "
                    + stored.position() + ", this worker had committed " + checkpoint.position() + " (a failover to a replica that lagged, "
                    + "or a restart from an older snapshot)", "`migrator run` again: it resumes from the target's checkpoint, and the "
                    + "source's backlog brings the lost writes again (or a full resync, if the backlog no longer holds them)");
        }
    }

    private void commitSlots(Map<Integer, List<byte[][]>> bySlot, Map<Integer, Long> slotEnd) {
        if (bySlot.isEmpty()) {
            return;
        }
        Map<RespConnection, List<Integer>> byNode = new LinkedHashMap<>();
        for (int slot : bySlot.keySet()) {
            byNode.computeIfAbsent(target.node(slot), n -> new ArrayList<>()).add(slot);
        }
        for (Map.Entry<RespConnection, List<Integer>> e : byNode.entrySet()) {
            RespConnection node = e.getKey();
            int replies = 0;
            List<List<byte[][]>> sent = new ArrayList<>();
            for (int slot : e.getValue()) {
                List<byte[][]> out = new ArrayList<>(bySlot.get(slot));
                out.add(slotSet(slot, slotEnd.get(slot)));
                RedisTargetNodes.send(node, RedisTargetNodes.argv("MULTI"));
                for (byte[][] argv : out) {
                    RedisTargetNodes.send(node, argv);
                }
                RedisTargetNodes.send(node, RedisTargetNodes.argv("EXEC"));
                replies += out.size() + 2;
                sent.add(out);
            }
            List<Object> all = node.getMany(replies);
            int at = 0;
            for (int i = 0; i < sent.size(); i++) {
                List<byte[][]> out = sent.get(i);
                checkExec(all.subList(at, at + out.size() + 2), out);
                at += out.size() + 2;
                int slot = e.getValue().get(i);
                slotOffsets.put(slot, slotEnd.get(slot));
            }
        }
    }

    /** A cluster reply that means "ask again, elsewhere or later" (slots moving, a failover): retriable. */
    private static boolean redirect(String message) {
        return message.startsWith("MOVED") || message.startsWith("ASK") || message.startsWith("TRYAGAIN") || message.startsWith("CLUSTERDOWN");
    }

    /**
     * Replies of MULTI, each QUEUED, and EXEC: any refusal names the command (never its values) and stops the stream. A
     * command that failed inside EXEC left the others applied: the checkpoint is marked for a full resync (in the same EXEC
     * where {@link RedisContinuity} could, else right here) and the worker stops with {@link ErrorCode#TARGET_LOST}.
     */
    private void checkExec(List<Object> replies, List<byte[][]> out) {
        for (int i = 1; i < replies.size() - 1; i++) {
            if (replies.get(i) instanceof JedisDataException d) {
                throw refused(out.get(i - 1), d, false);
            }
        }
        Object exec = replies.get(replies.size() - 1);
        if (exec instanceof JedisDataException d) {
            throw refused(null, d, false);
        }
        if (exec instanceof List<?> results) {
            String failed = null;
            RuntimeException first = null;
            for (int i = 0; i < results.size(); i++) {
                if (results.get(i) instanceof JedisDataException d) {
                    if (RedisContinuity.lost(d.getMessage())) {
                        if (target.cluster()) { // a slot's mark: the checkpoint says it too (it may be gone with the slot's node)
                            markResync(d.getMessage().substring("MIGRATORLOST ".length()));
                        }
                        throw RedisContinuity.failure(plan.name(), d.getMessage(), failed);
                    }
                    if (first == null) {
                        first = refused(out.get(i), d, true);
                        failed = first.getMessage();
                    }
                }
            }
            if (first instanceof JedisConnectionException) {
                throw first; // a slot moved: retried
            }
            if (first != null) { // a cluster slot's transaction (or a server without error counts): marked here
                String why = "a command of the stream failed on the target: " + failed;
                markResync(why);
                throw RedisContinuity.failure(plan.name(), "MIGRATORLOST " + why, null);
            }
        }
    }

    /** Marks the checkpoint for a full resync, as {@link RedisContinuity} does inside a batch. */
    private void markResync(String why) {
        try {
            RespConnection node = checkpointNode();
            RedisTargetNodes.send(node, new byte[][] {bytes("HSET"), bytes(RedisCheckpoint.key(plan.name())), bytes(RedisCheckpoint.RESYNC),
                bytes(why)});
            node.getOne();
        } catch (RuntimeException e) {
            LOG.warn("could not mark the target's checkpoint for a full resync ({}): run `migrator complete` and start over", e.toString());
        }
    }

    private static RuntimeException refused(byte[][] argv, JedisDataException d, boolean applied) {
        String message = d.getMessage() == null ? "" : d.getMessage();
        if (redirect(message)) {
            return new JedisConnectionException("the cluster moved slots: " + message); // retried after reading the slot map again
        }
        String what = argv == null ? "the transaction" : new String(argv[0], StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT)
                + (argv.length > 1 ? " on key " + RedisKeyParity.display(new String(argv[1], StandardCharsets.ISO_8859_1)) : "");
        if (message.startsWith("OOM")) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the target is out of memory (maxmemory): it refused " + what,
                    "give the target more memory, then `migrator run` again: nothing of this batch was applied", d);
        }
        if (message.contains("unknown command") || message.contains("NOPERM")) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the target cannot run " + what + ": " + message,
                    "the target must support every command the source's applications use (version, ACL); nothing of this batch "
                            + "was applied; fix the target, then `migrator run` again", d);
        }
        return new MigratorException(ErrorCode.INTERNAL, "the target refused " + what + ": " + message
                + (applied ? " (the target differs from the source for this key)" : ""),
                "validate (`migrator validate`) and repair the key, or start the migration afresh into an empty target", d);
    }

    /** Drops keys outside the plan's patterns; a command whose keys are partly in splits when it can, else stops. */
    private byte[][] filtered(Command c) {
        byte[][] argv = c.argv();
        if (argv.length > 1 && RedisCheckpoint.bookkeeping(argv[1])) {
            return null; // migrator's own keys on the source (a reverse direction's checkpoint, a cutover's mark) stay there
        }
        if (RedisKeys.all(keyFilter)) {
            return argv;
        }
        List<byte[]> keys = commands.keys(argv);
        if (keys.isEmpty()) {
            return argv;
        }
        long in = keys.stream().filter(k -> keyFilter.test(k) && !RedisCheckpoint.bookkeeping(k)).count();
        if (in == keys.size()) {
            return argv;
        }
        if (in == 0) {
            return null;
        }
        List<byte[][]> parts = RedisCommandTable.split(argv);
        if (parts == null) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the source ran " + c.name() + " on keys both inside and outside the "
                    + "plan's key patterns", "widen keys.include (or narrow keys.exclude) so related keys move together, then `migrator run` again");
        }
        List<byte[]> kept = new ArrayList<>();
        kept.add(argv[0]);
        for (byte[][] part : parts) {
            if (keyFilter.test(part[1])) {
                kept.addAll(Arrays.asList(part).subList(1, part.length));
            }
        }
        return kept.toArray(new byte[0][]);
    }

    /** A data command before any SELECT would be applied to a guessed database: never. */
    private void requireSelected(Command c) {
        if (streamDb < 0) {
            throw new MigratorException(ErrorCode.INTERNAL, "the replication stream carried " + c.name() + " before selecting a database",
                    "start this migration afresh (`migrator complete`, empty the target, `migrator run`) and report this");
        }
    }

    private void requireNoKeyFilter(String command) {
        if (!RedisKeys.all(keyFilter)) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the source ran " + command + " while the plan moves only some keys "
                    + "(keys.include/exclude); migrator will not empty a target database it shares with keys outside the plan",
                    "empty the matching keys on the target by hand (or the whole database if it holds nothing else), then start this "
                            + "migration afresh");
        }
    }

    /**
     * Runs a target operation; after a lost connection or a moved slot, reconnects and rereads what committed (the checkpoint,
     * the slots' offsets) until that succeeds, and only then runs the operation again, stepping over what did commit.
     */
    /** A lost target connection as the shared outage budget takes it. */
    private io.migrator.core.error.RetriableException lostTarget(String what, RuntimeException cause) {
        return new io.migrator.core.error.RetriableException(ErrorCode.CANNOT_CONNECT, what + " on the target at " + plan.target().address()
                + " failed: " + cause.getMessage(), "check the target runs; `migrator run` again resumes from the target's checkpoint", cause);
    }

    private void withRetry(String what, Runnable work) {
        long backoff = 200;
        while (true) {
            try {
                work.run();
                retry.recovered();
                return;
            } catch (JedisConnectionException | redis.clients.jedis.exceptions.JedisClusterOperationException e) {
                RuntimeException cause = e;
                while (true) {
                    if (stopping.get()) {
                        throw new MigratorException(ErrorCode.CANNOT_CONNECT, what + " on the target at " + plan.target().address()
                                + " was interrupted by the stop: " + cause.getMessage(), "`migrator run` again: it resumes from the "
                                + "target's checkpoint", cause);
                    }
                    retried.incrementAndGet();
                    sleep(retry.failed(what + " on the target", lostTarget(what, cause), backoff));
                    backoff = Math.min(backoff * 2, 10_000);
                    try {
                        target.refresh();
                        connectionDb = 0;
                        RedisCheckpoint stored = loadCheckpoint();
                        requireContinuity(stored, target.cluster() ? loadSlotOffsets() : null);
                        if (stored != null && stored.offset() > checkpoint.offset()) {
                            checkpoint = stored; // the batch did commit before the connection broke
                            streamDb = stored.db();
                            return;
                        }
                        break; // recovered: run the work again
                    } catch (JedisConnectionException | redis.clients.jedis.exceptions.JedisClusterOperationException again) {
                        cause = again;
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // bookkeeping on the target

    /** The connection to the node holding the checkpoint hash, in database 0. */
    private RespConnection checkpointNode() {
        RespConnection node = target.node(target.slot(bytes(RedisCheckpoint.key(plan.name()))));
        if (!target.cluster() && connectionDb != 0) {
            RedisTargetNodes.send(node, RedisTargetNodes.argv("SELECT", "0"));
            node.getOne();
            connectionDb = 0;
        }
        return node;
    }

    private RedisCheckpoint loadCheckpoint() {
        RespConnection node = checkpointNode();
        RedisTargetNodes.send(node, new byte[][] {bytes("HGETALL"), bytes(RedisCheckpoint.key(plan.name()))});
        return RedisCheckpoint.parse(node.getOne());
    }

    private void writeCheckpoint(RedisCheckpoint cp) {
        byte[] key = bytes(RedisCheckpoint.key(plan.name()));
        RespConnection node = target.node(target.slot(key));
        int n = 0;
        if (!target.cluster() && connectionDb != 0) {
            RedisTargetNodes.send(node, RedisTargetNodes.argv("SELECT", "0"));
            n++;
            connectionDb = 0;
        }
        RedisTargetNodes.send(node, cp.hset(plan.name()));
        n++;
        everStored = true;
        for (Object reply : node.getMany(n)) {
            if (reply instanceof JedisDataException d) {
                throw refused(cp.hset(plan.name()), d, false);
            }
        }
    }

    /** Reads every slot's offset; values of another replication history (another replid) do not count. */
    private Map<Integer, Long> loadSlotOffsets() {
        Map<Integer, Long> read = new HashMap<>();
        Map<RespConnection, List<Integer>> byNode = new LinkedHashMap<>();
        for (int s = 0; s < RedisTargetNodes.SLOTS; s++) {
            byNode.computeIfAbsent(target.node(s), n -> new ArrayList<>()).add(s);
        }
        String prefix = checkpoint.replId() + ":";
        for (Map.Entry<RespConnection, List<Integer>> e : byNode.entrySet()) {
            for (int s : e.getValue()) {
                RedisTargetNodes.send(e.getKey(), RedisTargetNodes.argv("GET", RedisCheckpoint.slotKey(plan.name(), s)));
            }
            List<Object> replies = e.getKey().getMany(e.getValue().size());
            for (int i = 0; i < replies.size(); i++) {
                if (replies.get(i) instanceof JedisDataException d) {
                    throw new JedisConnectionException("reading slot offsets: " + d.getMessage());
                }
                if (replies.get(i) instanceof byte[] b) {
                    String value = new String(b, StandardCharsets.US_ASCII);
                    if (value.startsWith(prefix)) {
                        read.put(e.getValue().get(i), Long.parseLong(value.substring(prefix.length())));
                    } else if (value.startsWith(RedisContinuity.SLOT_MARK)) {
                        markedSlots.add(e.getValue().get(i));
                    }
                }
            }
        }
        Map<Integer, Long> committed = Map.copyOf(slotOffsets);
        slotOffsets.clear();
        slotOffsets.putAll(read);
        return committed;
    }

    private void readJournal() {
        byte[] key = bytes(RedisCheckpoint.journalKey(plan.name()));
        RespConnection node = target.node(target.slot(key));
        RedisTargetNodes.send(node, new byte[][] {bytes("LRANGE"), key, bytes("0"), bytes("-1")});
        phases.addAll(journalEntries(node.getOne()));
    }

    /** The journal's entries ("PHASE|at|detail", oldest first) from an LRANGE reply. */
    private static List<MigrationStatus.PhaseEntry> journalEntries(Object reply) {
        List<MigrationStatus.PhaseEntry> entries = new ArrayList<>();
        if (reply instanceof List<?> list) {
            for (Object e : list) {
                String[] parts = RedisCommandTable.text(e).split("\\|", 3);
                if (parts.length == 3) {
                    entries.add(new MigrationStatus.PhaseEntry(Phase.valueOf(parts[0]), parts[1], parts[2]));
                }
            }
        }
        return entries;
    }

    private void journal(Phase p, String at, String detail) {
        journal(target, p, at, detail);
    }

    /** Appends to the journal through {@code nodes} (the applier's own, or a fresh one for a failure on another thread). */
    private void journal(RedisTargetNodes nodes, Phase p, String at, String detail) {
        byte[] key = bytes(RedisCheckpoint.journalKey(plan.name()));
        try {
            RespConnection node = nodes.node(nodes.slot(key));
            RedisTargetNodes.send(node, new byte[][] {bytes("RPUSH"), key, bytes(p.name() + "|" + at + "|" + detail)});
            RedisTargetNodes.send(node, new byte[][] {bytes("LTRIM"), key, bytes("-100"), bytes("-1")});
            node.getMany(2);
        } catch (RuntimeException e) {
            LOG.debug("could not journal the phase: {}", e.toString());
        }
    }

    /** A first run writes into an empty target only: a full resync removes keys it did not copy, which must be ours. */
    private void requireEmptyTarget() {
        String occupied = occupied(target, databases);
        connectionDb = -1; // occupied() selects databases
        if (occupied != null) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the target " + occupied + " at " + plan.target().address()
                    + ", and this migration has no checkpoint there", "migrate into an empty target: empty it (FLUSHDB) if its keys are "
                    + "disposable, or point the plan at another target; migrator never mixes its copy with keys it did not write");
        }
        RedisTargetNodes.send(target.node(0), RedisTargetNodes.argv("SELECT", "0"));
        target.node(0).getOne();
        connectionDb = 0;
    }

    /** Which of the target's databases (every master's database 0 on a cluster) hold keys other than bookkeeping; null when none. */
    static String occupied(RedisTargetNodes target, List<Integer> databases) {
        for (RespConnection node : target.masters()) {
            for (int db : target.cluster() ? List.of(0) : databases) {
                if (!target.cluster()) {
                    RedisTargetNodes.send(node, RedisTargetNodes.argv("SELECT", Integer.toString(db)));
                    node.getOne();
                }
                long size = (Long) node.execute(RedisTargetNodes.argv("DBSIZE"));
                long ours = size == 0 ? 0 : countBookkeeping(node); // other migrations' checkpoints are not data
                if (size > ours) {
                    return (target.cluster() ? "cluster" : "database " + db) + " already holds " + (size - ours) + " keys";
                }
            }
        }
        return null;
    }

    /** Whether the target holds this migration's checkpoint. */
    static boolean hasCheckpoint(RedisTargetNodes target, String plan) {
        byte[] key = bytes(RedisCheckpoint.key(plan));
        RespConnection node = target.node(target.slot(key));
        if (!target.cluster()) {
            RedisTargetNodes.send(node, RedisTargetNodes.argv("SELECT", "0"));
            node.getOne();
        }
        RedisTargetNodes.send(node, new byte[][] {bytes("EXISTS"), key});
        return (Long) node.getOne() > 0;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // the source

    private record SourceFacts(RedisCommandTable commands, int payloadVersion) {
    }

    private SourceFacts sourceFacts() {
        Jedis source = RedisConnector.connect(plan.source(), timeout);
        sourceForKeys = source;
        String sourceVersion;
        try {
            sourceVersion = RedisConnector.parseInfo(source.info("server")).getOrDefault("redis_version", "0");
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
        @SuppressWarnings("unchecked")
        List<Object> reply = (List<Object>) source.sendCommand(redis.clients.jedis.Protocol.Command.COMMAND, new byte[0][]);
        Map<String, RedisCommandTable.Spec> specs = RedisCommandTable.parse(reply);
        java.util.concurrent.locks.ReentrantLock lock = new java.util.concurrent.locks.ReentrantLock();
        RedisCommandTable table = new RedisCommandTable(specs, argv -> {
            lock.lock();
            try {
                Object keys = source.sendCommand(redis.clients.jedis.Protocol.Command.COMMAND, prepend(bytes("GETKEYS"), argv));
                List<byte[]> out = new ArrayList<>();
                for (Object k : (List<?>) keys) {
                    out.add((byte[]) k);
                }
                return out;
            } catch (JedisDataException e) {
                return List.of(); // "Invalid arguments" / no keys
            } finally {
                lock.unlock();
            }
        });
        String targetVersion;
        try (RedisTargetNodes nodes = new RedisTargetNodes(plan.target(), timeout)) {
            Object info = nodes.masters().iterator().next().execute(RedisTargetNodes.argv("INFO", "server"));
            targetVersion = RedisConnector.parseInfo(RedisCommandTable.text(info)).getOrDefault("redis_version", "0");
        }
        int sourceRdb = RedisVersions.rdbVersion(sourceVersion);
        int targetRdb = RedisVersions.rdbVersion(targetVersion);
        int payloadVersion = targetRdb < sourceRdb ? targetRdb : -1;
        if (payloadVersion > 0) {
            LOG.info("the target runs Redis {} (RDB {}), older than the source's {} (RDB {}): payloads are re-encoded for RDB {}",
                    targetVersion, targetRdb, sourceVersion, sourceRdb, targetRdb);
        }
        return new SourceFacts(table, payloadVersion);
    }

    private static byte[][] prepend(byte[] first, byte[][] rest) {
        byte[][] all = new byte[rest.length + 1][];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // status

    private void sampleLoop(AtomicBoolean stop) {
        MDC.put("migration", plan.name());
        Jedis source = null;
        long lastOffset = -1;
        long lastMillis = 0;
        int tick = 0;
        while (!stop.get() && !Thread.currentThread().isInterrupted()) {
            try {
                if (source == null) {
                    source = RedisConnector.connect(plan.source(), Duration.ofSeconds(5));
                }
                Map<String, String> info = RedisConnector.parseInfo(source.info("replication"));
                long now = System.currentTimeMillis();
                long offset = Long.parseLong(info.getOrDefault("master_repl_offset", "0"));
                backlogFirstByte = info.containsKey("repl_backlog_first_byte_offset")
                        ? Long.parseLong(info.get("repl_backlog_first_byte_offset")) : null;
                synchronized (masterOffsets) {
                    if (masterOffsets.isEmpty() || masterOffsets.peekLast()[1] != offset) {
                        masterOffsets.addLast(new long[] {now, offset});
                    }
                    RedisCheckpoint cp = checkpoint;
                    while (cp != null && masterOffsets.size() > 1) { // drop samples the target has passed, keeping the newest
                        long[] first = masterOffsets.pollFirst();
                        if (masterOffsets.peekFirst()[1] > cp.offset()) {
                            masterOffsets.addFirst(first);
                            break;
                        }
                    }
                    while (masterOffsets.size() > 10_000) {
                        masterOffsets.pollFirst();
                    }
                }
                if (lastOffset >= 0 && now > lastMillis) {
                    double rate = (offset - lastOffset) * 1000.0 / (now - lastMillis);
                    Double before = writeBytesPerSecond;
                    writeBytesPerSecond = before == null ? rate : before * 0.9 + rate * 0.1;
                }
                lastOffset = offset;
                lastMillis = now;
            } catch (RuntimeException e) {
                LOG.debug("could not read the source's replication offset: {}", e.toString());
                closeQuietly(source); // a broken connection's close fails too: it must not end the sampler (status, lag)
                source = null;
            }
            if (tick++ % 4 == 0) {
                long nanos = System.nanoTime();
                eventRate.update(appliedEvents.get(), nanos);
                keyRate.update(keysRestored.values().stream().mapToLong(AtomicLong::get).sum(), nanos);
                MigrationStatus s = status();
                history.add(new History.Sample(Instant.now().getEpochSecond(), s.lag().seconds(), s.lag().bytes(),
                        s.throughput().eventsPerSecond(), s.throughput().rowsPerSecond()));
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                break;
            }
        }
        closeQuietly(source);
    }

    private static void closeQuietly(Jedis jedis) {
        if (jedis != null) {
            try {
                jedis.close();
            } catch (RuntimeException ignored) {
                // the connection is gone either way
            }
        }
    }

    /** Milliseconds since the source first held a byte this worker has not applied (0 when none). */
    private long lagMillis(long now) {
        Phase p = phase.get();
        if (p == Phase.SNAPSHOT && fullSyncStartedMillis > 0) {
            return now - fullSyncStartedMillis;
        }
        RedisCheckpoint cp = checkpoint;
        synchronized (masterOffsets) {
            for (long[] sample : masterOffsets) {
                if (cp == null || sample[1] > cp.offset()) {
                    return now - sample[0];
                }
            }
        }
        return 0;
    }

    private Long bytesBehind() {
        RedisCheckpoint cp = checkpoint;
        synchronized (masterOffsets) {
            if (masterOffsets.isEmpty() || cp == null || cp.offset() < 0) {
                return null;
            }
            return Math.max(0, masterOffsets.peekLast()[1] - cp.offset());
        }
    }

    @Override
    public MigrationStatus status() {
        Phase p = phase.get();
        long now = System.currentTimeMillis();
        boolean streaming = p == Phase.SNAPSHOT || p == Phase.CATCH_UP || p == Phase.STREAMING;
        Double lag = streaming && (p == Phase.SNAPSHOT || !masterOffsets.isEmpty()) ? lagMillis(now) / 1000.0 : null;
        Long bytes = streaming && p != Phase.SNAPSHOT ? bytesBehind() : null;
        Double eta = null;
        Double rate = writeBytesPerSecond;
        Double headroom = null;
        RedisCheckpoint cp = checkpoint;
        Long first = backlogFirstByte;
        if (first != null && cp != null && cp.offset() >= 0 && rate != null && rate > 1024 && p != Phase.SNAPSHOT) { // idle: never
            headroom = Math.max(0, cp.offset() - first) / rate; // the backlog drops the oldest bytes at the write rate
        }
        if (bytes != null && lag != null && lag * 1000 < STREAMING_LAG_MILLIS) {
            eta = 0.0;
        }
        List<MigrationStatus.TableProgress> dbs = new ArrayList<>();
        long copied = 0;
        long estimated = 0;
        int done = 0;
        boolean synced = fullSyncDone || p == Phase.CATCH_UP || p == Phase.STREAMING;
        for (int db : databases) {
            long k = keysRestored.getOrDefault(db, new AtomicLong()).get();
            long est = synced ? k : Math.max(k, keysEstimated.getOrDefault(db, 0L));
            dbs.add(new MigrationStatus.TableProgress("db" + db, k, est, synced ? 1 : 0, 1, synced));
            copied += k;
            estimated += est;
            done += synced ? 1 : 0;
        }
        boolean ready = cutoverReady(p, paused.get(), lag);
        MigrationStatus own = new MigrationStatus(plan.name(), p, paused.get(), new MigrationStatus.Worker(true, listen, startedAt.toString()),
                new MigrationStatus.Lag(lag, queued.get(), bytes, eta, headroom, null),
                new MigrationStatus.Snapshot(done, databases.size(), copied, estimated, dbs),
                new MigrationStatus.Applied(appliedEvents.get(), cp == null || cp.offset() < 0 ? "" : cp.position(), eventRate.value()),
                new MigrationStatus.Throughput(keyRate.value(), eventRate.value()), validation, ready, List.copyOf(phases), error,
                retried.get(), Instant.ofEpochMilli(now).toString()).withDegraded(degraded());
        RedisMigration back = reverse;
        return back == null ? own : own.withReverse(back.status());
    }

    /** Status from the target's bookkeeping while no worker runs. */
    static MigrationStatus stored(Plan plan) {
        try (RedisTargetNodes nodes = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
            byte[] key = bytes(RedisCheckpoint.key(plan.name()));
            RespConnection node = nodes.node(nodes.slot(key));
            RedisTargetNodes.send(node, new byte[][] {bytes("HGETALL"), key});
            RedisCheckpoint cp = RedisCheckpoint.parse(node.getOne());
            byte[] journal = bytes(RedisCheckpoint.journalKey(plan.name()));
            RespConnection jnode = nodes.node(nodes.slot(journal));
            RedisTargetNodes.send(jnode, new byte[][] {bytes("LRANGE"), journal, bytes("0"), bytes("-1")});
            List<MigrationStatus.PhaseEntry> phases = journalEntries(jnode.getOne());
            Phase p = cp == null ? Phase.PREFLIGHT : cp.phase();
            if (!phases.isEmpty() && phases.get(phases.size() - 1).phase() == Phase.FAILED) {
                p = Phase.FAILED;
            }
            String cutover = RedisCutoverJournal.state(node, plan.name());
            if (cutover != null) { // a cutover keeps its state beside the stream's checkpoint; a failure inside it stays inside it
                p = "cut-over".equals(cutover) ? Phase.CUT_OVER : Phase.CUTTING_OVER;
            }
            List<Integer> dbs = plan.source().databases().isEmpty() ? List.of(0) : plan.source().databases();
            boolean synced = p == Phase.CATCH_UP || p == Phase.STREAMING;
            List<MigrationStatus.TableProgress> tables = new ArrayList<>();
            for (int db : dbs) { // without a worker: the keys each database holds on the target now (bookkeeping aside)
                long held = 0;
                for (RespConnection master : nodes.masters()) {
                    if (!nodes.cluster()) {
                        master.execute(RedisTargetNodes.argv("SELECT", Integer.toString(db)));
                    }
                    held += master.execute(RedisTargetNodes.argv("DBSIZE")) instanceof Long n ? n : 0;
                }
                if (db == 0) {
                    held = Math.max(0, held - bookkeepingKeys(nodes));
                }
                tables.add(new MigrationStatus.TableProgress("db" + db, held, held, synced ? 1 : 0, 1, synced));
            }
            long keys = cp == null ? 0 : cp.keysRestored();
            MigrationStatus.Problem problem = null;
            if (p == Phase.FAILED && !phases.isEmpty()) {
                problem = new MigrationStatus.Problem("FAILED", phases.get(phases.size() - 1).detail(), "read the worker's log for the remedy, "
                        + "fix the cause, then `migrator run` again: it resumes from the target's checkpoint");
            }
            return new MigrationStatus(plan.name(), p, false, new MigrationStatus.Worker(false, null, null),
                    new MigrationStatus.Lag(null, null, null, null, null, null),
                    new MigrationStatus.Snapshot(synced ? dbs.size() : 0, dbs.size(), keys, keys, tables),
                    new MigrationStatus.Applied(cp == null ? 0 : cp.events(), cp == null || cp.offset() < 0 ? null : cp.position(), null),
                    new MigrationStatus.Throughput(null, null), MigrationStatus.Validation.never(), false, phases, problem, 0,
                    Instant.now().toString());
        } catch (JedisConnectionException e) {
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, "cannot reach the target Redis at " + plan.target().address() + ": "
                    + e.getMessage(), "check that it runs; then ask again", e);
        }
    }

    /** How many bookkeeping keys (checkpoints, journals, slot offsets of any migration) the target's database 0 holds. */
    private static long bookkeepingKeys(RedisTargetNodes nodes) {
        long count = 0;
        for (RespConnection node : nodes.masters()) {
            if (!nodes.cluster()) {
                node.execute(RedisTargetNodes.argv("SELECT", "0"));
            }
            count += countBookkeeping(node);
        }
        return count;
    }

    /** Bookkeeping keys in the database the connection has selected (a SCAN, so a big database is not blocked). */
    private static long countBookkeeping(RespConnection node) {
        long count = 0;
        byte[] cursor = bytes("0");
        do {
            List<?> reply = (List<?>) node.execute(new byte[][] {bytes("SCAN"), cursor, bytes("MATCH"),
                    bytes(RedisCheckpoint.PREFIX + "*"), bytes("COUNT"), bytes("1000")});
            cursor = (byte[]) reply.get(0);
            count += ((List<?>) reply.get(1)).size();
        } while (!Arrays.equals(cursor, bytes("0")));
        return count;
    }

    /** How many bookkeeping keys this migration keeps on the target (what {@link #forget} would remove). */
    static long bookkeepingKeys(Plan plan) {
        return eachBookkeepingKey(plan, false);
    }

    /** Removes this migration's bookkeeping keys from the target; returns what it removed. */
    static List<String> forget(Plan plan) {
        List<String> removed = new ArrayList<>();
        long count = eachBookkeepingKey(plan, true);
        if (count > 0) {
            removed.add(count + " bookkeeping keys " + RedisCheckpoint.PREFIX + plan.name() + ":* (checkpoint, journal, slot offsets)");
        }
        return removed;
    }

    /** Scans every master of the target for this migration's bookkeeping keys, deleting them with {@code delete}; how many. */
    private static long eachBookkeepingKey(Plan plan, boolean delete) {
        try (RedisTargetNodes nodes = new RedisTargetNodes(plan.target(), Duration.ofSeconds(30))) {
            String pattern = RedisCheckpoint.PREFIX + plan.name() + ":*";
            long count = 0;
            for (RespConnection node : nodes.masters()) {
                byte[] cursor = bytes("0");
                do {
                    RedisTargetNodes.send(node, new byte[][] {bytes("SCAN"), cursor, bytes("MATCH"), bytes(pattern), bytes("COUNT"), bytes("1000")});
                    List<?> reply = (List<?>) node.getOne();
                    cursor = (byte[]) reply.get(0);
                    List<?> keys = (List<?>) reply.get(1);
                    if (delete) {
                        for (Object k : keys) {
                            RedisTargetNodes.send(node, new byte[][] {bytes("DEL"), (byte[]) k});
                        }
                        if (!keys.isEmpty()) {
                            node.getMany(keys.size());
                        }
                    }
                    count += keys.size();
                } while (!Arrays.equals(cursor, bytes("0")));
            }
            return count;
        }
    }

    /** A phase move of the stream's own (a resync): inside a cutover the phase is the cutover's, the event only logged. */
    private void streamMove(Phase next, String why) {
        if (inCutover()) {
            LOG.info("{} (phase stays {})", why, phase.get());
            return;
        }
        move(next, why);
    }

    private boolean inCutover() {
        Phase p = phase.get();
        return p == Phase.CUTTING_OVER || p == Phase.CUT_OVER;
    }

    private void move(Phase next, String why) {
        Phase current = phase.getAndSet(next);
        String at = Instant.now().toString();
        phases.add(new MigrationStatus.PhaseEntry(next, at, why));
        journal(next, at, why);
        LOG.info("phase {} -> {} ({})", current, next, why);
    }

    private void fail(Exception e) {
        String detail = recordFailure(e);
        stopping.set(true);
        RedisCheckpoint cp = checkpoint;
        if (cp == null || cp.phase() == Phase.PREFLIGHT || leaseLost) {
            return; // nothing of this migration is on the target yet, or it is another worker's now: write nothing there
        }
        try (RedisTargetNodes own = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
            journal(own, Phase.FAILED, Instant.now().toString(), detail); // its own connection: the applier may be in a MULTI
        } catch (RuntimeException ignored) {
            // the target may be what failed
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
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
