package io.migrator.core.apply;

import io.migrator.core.change.ChangeBatch;
import io.migrator.core.change.RowChange;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.error.Retry;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import io.migrator.core.spi.ChangeStream;
import io.migrator.core.spi.Fence;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plays one source's change stream into one target (Vitess's vplayer role): opens the stream at the checkpoint,
 * supervises it, applies each batch with the DDL it carries and its checkpoint in one target transaction (through the
 * {@link ApplyPipeline}, one batch read ahead), runs repairs between batches, and answers where the applied position
 * stands: it is the {@link Fence} validation waits on, and the one a cutover drains to.
 *
 * <p>Source and target are parameters, so the same player runs target → old source for reverse replication. The target
 * session is also the checkpoint's home: exactly-once needs the checkpoint in the same transaction as the rows it covers
 * (ARCHITECTURE.md, rule 2), so it cannot live anywhere else.
 */
public final class StreamPlayer implements Fence {
    private static final Logger LOG = LoggerFactory.getLogger(StreamPlayer.class);

    private final Plan plan;
    private final SourceSession source;
    private final TargetSession target;
    private final Retry retry;
    private final BooleanSupplier paused;
    private final Supplier<SourcePosition> startPosition;
    private final SchemaChanges schemaChanges;
    private final RepairQueue repairs = new RepairQueue(this::applyRepair);
    private final AtomicReference<String> position = new AtomicReference<>("");
    private final AtomicLong lastSourceMillis = new AtomicLong();
    private final AtomicLong appliedEvents = new AtomicLong();
    private final AtomicLong appliedBatches = new AtomicLong();
    private final ChangedKeys changed = new ChangedKeys(200_000);
    private volatile ChangeStream stream;
    private volatile ApplyPipeline pipeline;

    /**
     * @param startPosition where the stream starts when the target holds no checkpoint yet (P0, recorded before the copy)
     * @param paused        a pause holds the applier between batches; the backlog stays in the source's log
     */
    public StreamPlayer(Plan plan, SourceSession source, TargetSession target, Retry retry, BooleanSupplier paused,
                        Supplier<SourcePosition> startPosition) {
        this.plan = plan;
        this.source = source;
        this.target = target;
        this.retry = retry;
        this.paused = paused;
        this.startPosition = startPosition;
        this.schemaChanges = new SchemaChanges(source, target, plan.tables(), plan.source().database(), retry);
    }

    /** Counts what the target committed before this worker started (status shows the migration's total). */
    public void resumeCounting(long appliedBefore) {
        appliedEvents.set(appliedBefore);
    }

    /**
     * Streams the tables' changes from the target's checkpoint (or the start position) until {@code stop} is set, and
     * returns then; throws when the stream or the applier fails. {@code tick} runs on the calling thread about ten times
     * a second, for what the worker decides while the stream runs (phase moves, scheduled validation).
     */
    public void play(List<TableDef> tables, String streamId, AtomicBoolean stop, Runnable tick) {
        SourcePosition from = target.checkpoint().orElse(startPosition.get());
        if (from == null) {
            throw new MigratorException(ErrorCode.INTERNAL, "no start position recorded for " + plan.name(),
                    "the bookkeeping on the target is incomplete; start the migration afresh");
        }
        position.set(from.text());
        LOG.info("streaming changes from {}", from.text());
        ApplyPipeline running = new ApplyPipeline(plan.name(), stop, new ApplyPipeline.Applier() {
            @Override
            public void prefetch(List<RowChange> coalesced) {
                target.prefetch(coalesced);
            }

            @Override
            public void apply(ChangeBatch batch, List<RowChange> coalesced) {
                applyBatch(batch, coalesced);
            }

            @Override
            public boolean midTransaction() {
                return target.inOpenTransaction();
            }
        }, repairs, paused);
        pipeline = running;
        try (ChangeStream opened = source.openStream(tables, from, streamId)) {
            stream = opened;
            opened.start(running::submit);
            while (!stop.get()) {
                if (running.failure() != null) {
                    throw running.failure();
                }
                if (!opened.running()) {
                    Throwable failure = opened.failure();
                    if (failure instanceof MigratorException m) {
                        throw m;
                    }
                    throw new MigratorException(ErrorCode.INTERNAL, "the change stream stopped: "
                            + (failure == null ? "no reason given" : failure.toString()), null, failure);
                }
                long silent = opened.beats() ? running.silentMillis() : 0; // without a heartbeat an idle source is silent too
                if (silent > plan.network().stallTimeout().toMillis() && !paused.getAsBoolean() && opened.stalled()) {
                    // a half-open connection, a source that hangs: nothing arrives, not even the heartbeat written every second
                    throw new io.migrator.core.error.RetriableException(ErrorCode.CANNOT_CONNECT, "the change stream delivered nothing for "
                            + silent / 1000 + " s, not even the source's heartbeat (network.stallTimeout " + plan.network().stallTimeout()
                            .toSeconds() + " s)", "migrator reconnects it from the checkpoint; if it goes on, check the source and the "
                            + "network between them", null);
                }
                tick.run();
                sleep(100);
            }
        } finally {
            running.close();
            // the applier has ended: what a source transaction's open batches wrote is rolled back, its connection goes
            target.endApply();
            stream = null;
            pipeline = null;
        }
        if (running.failure() != null) {
            throw running.failure();
        }
    }

    /**
     * On the applier thread: the batch's DDL first, then its rows with the checkpoint, in one target transaction. The
     * open batches of a large source transaction go into one target transaction that the batch closing it commits
     * ({@link ChangeBatch#open}); a failure inside it is not retried batch by batch (what the transaction wrote is gone
     * with it) but ends the stream, which starts again from the checkpoint before the transaction.
     */
    private void applyBatch(ChangeBatch batch, List<RowChange> coalesced) {
        if (batch.open() && target.holdsTransactions()) {
            insideOpenTransaction(() -> target.applyOpen(coalesced, batch.changes().size()));
            changed.record(coalesced);
            return;
        }
        for (String ddl : batch.ddl()) {
            schemaChanges.apply(ddl);
        }
        long started = System.nanoTime();
        if (target.inOpenTransaction()) {
            insideOpenTransaction(() -> target.apply(coalesced, batch.position(), batch.changes().size()));
        } else {
            retry.run("applying a batch of " + coalesced.size() + " changes",
                    () -> target.apply(coalesced, batch.position(), batch.changes().size()));
        }
        LOG.debug("applied {} changes ({} after coalescing) in {} ms", batch.changes().size(), coalesced.size(),
                (System.nanoTime() - started) / 1_000_000);
        appliedEvents.addAndGet(batch.changes().size());
        appliedBatches.incrementAndGet();
        changed.record(coalesced);
        if (batch.sourceMillis() > 0) {
            lastSourceMillis.accumulateAndGet(batch.sourceMillis(), Math::max);
        }
        position.set(batch.position().text());
        ChangeStream current = stream;
        if (current != null) {
            // confirmed to the source only once on the target's disk (a target committing without waiting for it says when)
            target.durable(batch.position()).ifPresent(current::applied);
        }
    }

    private void insideOpenTransaction(Runnable work) {
        try {
            work.run();
        } catch (RuntimeException e) {
            target.abandonOpen();
            if (e instanceof io.migrator.core.error.RetriableException r) {
                throw new io.migrator.core.error.RetriableException(r.code(), "applying a large source transaction as one target "
                        + "transaction failed: " + r.getMessage(), "migrator streams it again from the checkpoint before it; if it "
                        + "goes on, check the target and the network between them", r);
            }
            throw e;
        }
    }

    /** True once the target applied past {@code goal}: the fence of validation (and of the cutover's drain). */
    @Override
    public boolean awaitApplied(SourcePosition goal, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) { // asked at least once, whatever the timeout
            String applied = position.get();
            if (!applied.isEmpty() && source.reached(new SourcePosition(applied), goal)) {
                target.makeDurable(); // the cutover switches to the target only once the fence is on its disk
                return true;
            }
            if (System.nanoTime() >= deadline) {
                return false;
            }
            Thread.sleep(Math.max(1, Math.min(10, (deadline - System.nanoTime()) / 1_000_000)));
        }
    }

    /** The rows changed since the last clean validation (the cutover verifies them inside its freeze). */
    public ChangedKeys changedKeys() {
        return changed;
    }

    /** Writes the source's current images of these rows on the target, between batches while the stream runs. */
    public void repair(TableDef table, List<String> keys) {
        repairs.repair(table, keys);
    }

    /**
     * Reads the source rows now and writes their images (or deletes), keeping the checkpoint where it is. Stream events
     * still to come up to the moment of this read replay older images of these rows, then newer ones: they converge to
     * the source exactly as rule 1 argues for the copy.
     */
    private void applyRepair(TableDef stale, List<String> keys) {
        TableDef table = schemaChanges.current(stale);
        List<RowChange> changes = source.readRows(table, keys);
        SourcePosition applied = appliedPosition();
        SourcePosition at = applied != null ? applied : target.checkpoint().orElse(startPosition.get());
        retry.run("repairing " + keys.size() + " rows of " + table.id(), () -> target.apply(changes, at, 0));
        LOG.info("repaired {} rows of {}", keys.size(), table.id());
    }

    /** The position of the last batch the target committed, or where the stream starts; null before it ever started. */
    public SourcePosition appliedPosition() {
        String applied = position.get();
        return applied.isEmpty() ? null : new SourcePosition(applied);
    }

    /** {@link #appliedPosition} as text, empty before the stream started (status: applied.position). */
    public String appliedPositionText() {
        return position.get();
    }

    /**
     * After the pause this player was given turned true: waits until its applier holds between batches (nothing being
     * applied, nothing more while paused). True when no stream runs.
     */
    public boolean awaitHeld(Duration timeout) throws InterruptedException {
        ApplyPipeline running = pipeline;
        return running == null || running.awaitHeld(timeout);
    }

    /** Source commit time of the newest change applied (heartbeats included); 0 before any. */
    public long lastSourceMillis() {
        return lastSourceMillis.get();
    }

    /** Events read from the source and not yet committed on the target. */
    public long inFlightEvents() {
        ApplyPipeline running = pipeline;
        return running == null ? 0 : running.inFlight();
    }

    public long appliedEvents() {
        return appliedEvents.get();
    }

    public long appliedBatches() {
        return appliedBatches.get();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
