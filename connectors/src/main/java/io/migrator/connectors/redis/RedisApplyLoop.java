package io.migrator.connectors.redis;

import static io.migrator.connectors.redis.RedisTargetNodes.bytes;

import io.migrator.connectors.redis.RedisItem.Command;
import io.migrator.connectors.redis.RedisItem.Key;
import io.migrator.connectors.redis.RedisItem.StreamStart;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.Phase;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The applier thread of one stream: takes what the replication reader hands over and applies it in order: a full sync's
 * keys in restore batches, the stream's commands in batches of at most {@link #COMMAND_BATCH} (a source transaction
 * whole in one), each with its checkpoint. It moves the phase as the stream goes (SNAPSHOT at a full sync, CATCH_UP when
 * the stream starts, STREAMING once within {@link RedisProgress#STREAMING_LAG_MILLIS} of the source) and, past a
 * cutover's point of no return, applies nothing more.
 */
final class RedisApplyLoop {
    private static final Logger LOG = LoggerFactory.getLogger(RedisApplyLoop.class);
    private static final int RESTORE_BATCH_KEYS = 2_000;
    private static final long RESTORE_BATCH_BYTES = 8L << 20;
    private static final int COMMAND_BATCH = 2_000;
    private static final long COMMAND_BATCH_BYTES = 8L << 20;

    private final RedisMigration worker;
    private final Plan plan;
    private final RedisReplicationReader reader;
    private final RedisBookkeeping books;
    private final RedisTargetWrites writes;
    private final RedisRestorer restorer;
    private final RedisApplier applier;
    private final RedisProgress progress;

    RedisApplyLoop(RedisMigration worker, RedisReplicationReader reader, RedisBookkeeping books, RedisTargetWrites writes,
            RedisRestorer restorer, RedisApplier applier, RedisProgress progress) {
        this.worker = worker;
        this.plan = worker.plan();
        this.reader = reader;
        this.books = books;
        this.writes = writes;
        this.restorer = restorer;
        this.applier = applier;
        this.progress = progress;
    }

    /** Runs until {@code stop} (the stream\'s end) or a failure, which goes to the worker. */
    void run(AtomicBoolean stop) {
        MDC.put("migration", plan.name());
        List<Key> restores = new ArrayList<>();
        long restoreBytes = 0;
        RedisItem pending = null;
        try {
            while (!stop.get()) {
                RedisItem item = pending != null ? pending : take(stop, true);
                pending = null;
                if (item == null) {
                    break;
                }
                if (worker.streamStopped) {
                    applier.drain();
                    worker.streamStoppedAck = true; // past the point of no return: nothing more reaches the opened target
                    continue;
                }
                while (worker.paused() && !stop.get()) {
                    RedisTargetWrites.sleep(100);
                }
                if (!(item instanceof Command)) {
                    applier.drain(); // keys and the stream's start use the connection on their own
                }
                if (item instanceof RedisItem.FullSync) {
                    restores.clear(); // keys of a copy that broke off: the new copy brings what still exists
                    restoreBytes = 0;
                    restorer.restore(List.of(), true); // replies still in flight
                    startFullSync();
                } else if (item instanceof RedisItem.Keys keys) {
                    restores.addAll(keys.keys());
                    restoreBytes += keys.bytes();
                    if (restores.size() >= RESTORE_BATCH_KEYS || restoreBytes >= RESTORE_BATCH_BYTES || reader.isEmpty()) {
                        restorer.restore(restores, false);
                        restores.clear();
                        restoreBytes = 0;
                    }
                } else if (item instanceof StreamStart start) {
                    restorer.restore(restores, true);
                    restores.clear();
                    restoreBytes = 0;
                    startStream(start);
                } else if (item instanceof Command first) {
                    List<Command> batch = new ArrayList<>();
                    batch.add(first);
                    long bytes = first.kib();
                    boolean inMulti = first.name().equals("MULTI");
                    while (batch.size() < COMMAND_BATCH && bytes * 1024 < COMMAND_BATCH_BYTES || inMulti) {
                        RedisItem next = inMulti ? take(stop) : reader.poll();
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
                    if (worker.streamStopped) {
                        applier.drain();
                        worker.streamStoppedAck = true; // past the point of no return: this batch is not applied
                        continue;
                    }
                    applyCommands(batch);
                }
            }
            applier.drain(); // stopping: the last batch's reply, so status ends at what the target holds
        } catch (Throwable e) {
            worker.failed(e);
        }
    }


    private RedisItem take(AtomicBoolean stop) throws InterruptedException {
        return take(stop, false);
    }

    /** The next item; {@code top}: called between batches (the stream's end may be acknowledged there). */
    private RedisItem take(AtomicBoolean stop, boolean top) throws InterruptedException {
        while (!stop.get()) {
            // inside a cutover the fence waits for the last batch's confirmation: an idle applier confirms it sooner
            RedisItem item = reader.poll(worker.cutoverRunning() ? 5 : 100);
            if (item != null) {
                return item;
            }
            applier.drain();
            if (top && worker.streamStopped) {
                worker.streamStoppedAck = true; // between batches, the last one confirmed: nothing more is applied
            }
            maybeStreaming(); // an idle source sends nothing for seconds: the phase still follows the lag
        }
        return null;
    }


    /** On the applier thread: CATCH_UP becomes STREAMING once the target is within a couple of seconds of the source. */
    private void maybeStreaming() {
        if (worker.phase() == Phase.CATCH_UP && progress.fullSyncDone && reader.isEmpty() && progress.sampled()
                && progress.lagMillis(System.currentTimeMillis(), Phase.CATCH_UP) < RedisProgress.STREAMING_LAG_MILLIS) {
            worker.move(Phase.STREAMING, "caught up");
            RedisCheckpoint cp = books.checkpoint;
            books.checkpoint = cp.with(Phase.STREAMING, worker.appliedEvents(), cp.keysRestored(), cp.sync());
            if (!applier.inFlight()) {
                books.writeCheckpoint(books.checkpoint); // an idle source may send nothing for a while: store the phase now
            }
        }
    }

    /** A full sync begins: from here until the stream starts, keys arrive as DUMP payloads. */
    private void startFullSync() {
        if (worker.inCutover()) {
            // a full resync restores and reconciles every key: on a target the application may already write to, it would
            // overwrite and delete the application's writes
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, "the source's backlog no longer holds the stream of " + plan.name()
                    + " and it sent a full sync during the cutover: a full resync now would overwrite the application's writes on "
                    + "the target", "finish the move by hand (the old source is paused or its application users read-only: switch the "
                    + "application, then `migrator complete`), or undo it by pointing the application back at the old source");
        }
        RedisCheckpoint checkpoint = books.checkpoint;
        boolean again = checkpoint.phase() != Phase.PREFLIGHT;
        worker.continuous = false; // a reverse direction synced in full: its parity is no longer the fence's
        restorer.begin(again);
        progress.fullSyncStarted();
        String why;
        if (!again) {
            why = "full sync from the source";
        } else if (!books.resyncReason.isEmpty()) {
            why = "full resync: " + books.resyncReason + "; keys the target holds that the new copy lacks will be removed";
        } else if (checkpoint.phase() == Phase.SNAPSHOT || checkpoint.offset() < 0) {
            why = "full resync: the previous full sync did not finish; keys the target holds that the new copy lacks will be removed";
        } else {
            why = "full resync: the source could not continue from " + checkpoint.position() + " (its backlog no longer holds it); "
                    + "keys the target holds that the new copy lacks will be removed";
        }
        worker.move(Phase.SNAPSHOT, why);
        books.checkpoint = checkpoint.with(Phase.SNAPSHOT, worker.appliedEvents(), 0, again ? "full (resync)" : "full");
        books.writeCheckpoint(books.checkpoint);
        if (!books.resyncReason.isEmpty()) { // the phase says SNAPSHOT now: a restart syncs in full anyway
            RespConnection node = books.checkpointNode();
            RedisTargetNodes.send(node, new byte[][] {bytes("HDEL"), bytes(RedisCheckpoint.key(plan.name())), bytes(RedisCheckpoint.RESYNC)});
            node.getOne();
            books.resyncReason = "";
        }
    }

    /** The stream begins after a full sync (its offset is the copy's) or continues a partial resync. */
    private void startStream(StreamStart start) {
        if (start.full()) {
            if (restorer.resync()) {
                long removed = restorer.reconcile();
                LOG.info("full resync: removed {} keys the source no longer holds ({} keys restored)", removed, restorer.restoredCount());
            }
            restorer.end();
            progress.fullSyncDone = true;
            long restored = progress.keysRestored();
            books.streamDb = -1;
            books.checkpoint = new RedisCheckpoint(start.replId(), start.offset(), -1, Phase.CATCH_UP, worker.appliedEvents(), restored,
                    books.checkpoint.sync(), Instant.now().toString());
            applier.newHistory();
            books.writeCheckpoint(books.checkpoint);
            worker.streamMove(Phase.CATCH_UP, restored + " keys restored; streaming from " + books.checkpoint.position());
        } else {
            progress.fullSyncDone = true;
            LOG.info("partial resync: the source continues from {}:{}", start.replId(), start.offset());
            RedisCheckpoint cp = books.checkpoint;
            if (!start.replId().equals(cp.replId())) {
                cp = cp.at(start.replId(), cp.offset(), cp.db());
            }
            books.checkpoint = cp.with(Phase.CATCH_UP, worker.appliedEvents(), cp.keysRestored(), "partial");
            worker.streamMove(Phase.CATCH_UP, "partial resync from " + start.replId() + ":" + start.offset() + ": the source's backlog still held it");
        }
    }

    /** Applies one batch of stream commands with its checkpoint, exactly once, if this worker still holds the claim. */
    private void applyCommands(List<Command> batch) {
        writes.fenceLease();
        applier.apply(batch);
        maybeStreaming();
    }
}
