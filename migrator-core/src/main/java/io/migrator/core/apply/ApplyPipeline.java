package io.migrator.core.apply;

import io.migrator.core.change.ChangeBatch;
import io.migrator.core.change.RowChange;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.MDC;

/**
 * Two stages, one batch apart: the stream's thread coalesces batch N+1 and has the target prefetch its rows while the
 * applier thread applies batch N. One applier, first in first out: source order is kept, and each batch still commits
 * with its checkpoint in one transaction. Between batches the applier runs queued repairs (validation) and honours a pause.
 * The stream player owns it; it keeps no state beyond the batch in flight.
 */
final class ApplyPipeline implements AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ApplyPipeline.class);
    /** Where a batch goes: its rows are read ahead on the stream's thread, then it commits with its checkpoint. */
    interface Applier {
        /** Reads the target rows a coalesced batch will change (best effort). */
        void prefetch(List<RowChange> coalesced);

        /** Applies one batch with its checkpoint, on the applier thread. */
        void apply(ChangeBatch batch, List<RowChange> coalesced);

        /**
         * Whether a source transaction's open batches hold a target transaction open: until its closing batch commits it,
         * no repair runs (its rows may wait for that transaction's locks) and a pause does not hold the applier.
         */
        default boolean midTransaction() {
            return false;
        }
    }

    private record Work(ChangeBatch batch, List<RowChange> coalesced) {
    }

    private final BlockingQueue<Work> queue = new ArrayBlockingQueue<>(1);
    private final AtomicBoolean stop;
    private final Applier target;
    private final RepairQueue repairs;
    private final java.util.function.BooleanSupplier paused;
    /** Events read from the source and not yet committed on the target (status: lag.events). */
    private final java.util.concurrent.atomic.AtomicLong inFlight = new java.util.concurrent.atomic.AtomicLong();
    private final Thread applier;
    private volatile MigratorException failure;
    /** Hold requests made ({@link #awaitHeld}) and the last one the applier saw while paused, between batches. */
    private final java.util.concurrent.atomic.AtomicLong holdRequests = new java.util.concurrent.atomic.AtomicLong();
    private volatile long holdSeen;
    /** When a batch last arrived from the stream or was applied (nanoTime); and whether one is being handed on or applied. */
    private volatile long lastActivity = System.nanoTime();
    /** Whether the stream has delivered anything yet: its start-up (a schema capture) is not a stall. */
    private volatile boolean delivered;
    private volatile boolean submitting;
    private volatile boolean applying;

    ApplyPipeline(String migration, AtomicBoolean stop, Applier target, RepairQueue repairs, java.util.function.BooleanSupplier paused) {
        this.stop = stop;
        this.target = target;
        this.repairs = repairs;
        this.paused = paused;
        this.applier = new Thread(() -> {
            MDC.put("migration", migration);
            repairs.applierRunning(true);
            try {
                loop();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (MigratorException e) {
                failure = e;
            } catch (RuntimeException e) {
                failure = new MigratorException(ErrorCode.INTERNAL, "applying changes failed: " + e, null, e);
            } finally {
                repairs.applierRunning(false); // queued repairs are taken back and applied by the validator's thread
            }
        }, "applier");
        applier.setDaemon(true);
        applier.start();
    }

    private void loop() throws InterruptedException {
        while (!stop.get() && failure == null) {
            boolean between = !target.midTransaction();
            if (between && repairs.runOne()) {
                continue; // repairs go first, paused or not: a validation waits on them
            }
            if (between && paused.getAsBoolean()) {
                holdSeen = holdRequests.get(); // between batches, none being applied: a hold asked for is in place
                Thread.sleep(5);
                continue;
            }
            Work work = queue.poll(10, TimeUnit.MILLISECONDS);
            // a pause that came while this poll waited holds the batch it returned (not applied; on stop, the next run
            // replays it from the checkpoint)
            while (work != null && between && paused.getAsBoolean() && !stop.get()) {
                holdSeen = holdRequests.get();
                if (!repairs.runOne()) {
                    Thread.sleep(5);
                }
            }
            if (work != null && !stop.get()) {
                applying = true;
                try {
                    target.apply(work.batch(), work.coalesced());
                } finally {
                    applying = false;
                    lastActivity = System.nanoTime();
                }
                inFlight.addAndGet(-work.batch().changes().size());
            }
        }
    }

    /**
     * Once the caller has made {@code paused} true: waits until the applier has seen it between two batches, so no batch
     * is being applied and none will be while it stays paused. False when the timeout passed first.
     */
    boolean awaitHeld(java.time.Duration timeout) throws InterruptedException {
        long wanted = holdRequests.incrementAndGet();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (holdSeen < wanted) {
            if (System.nanoTime() > deadline || !applier.isAlive()) {
                return !applier.isAlive();
            }
            Thread.sleep(1);
        }
        return true;
    }

    long inFlight() {
        return inFlight.get();
    }

    MigratorException failure() {
        return failure;
    }

    /** Called by the stream, in order; blocks while the applier is busy (the backlog stays in the source's log). */
    void submit(ChangeBatch batch) throws InterruptedException {
        lastActivity = System.nanoTime();
        delivered = true;
        submitting = true;
        try {
            enqueue(batch);
        } catch (InterruptedException e) {
            if (stop.get() && !(e instanceof io.migrator.core.spi.ChangeStream.Stopping)) {
                // the engine interrupts its polling thread as the worker stops: that is the stop, not a failure to report
                throw new io.migrator.core.spi.ChangeStream.Stopping();
            }
            throw e;
        } finally {
            submitting = false;
        }
    }

    /**
     * How long the stream has delivered nothing while the applier waited for it (ms): 0 while a batch is being handed on,
     * queued or applied (a slow or unreachable target is the applier's retries, not a silent stream).
     */
    long silentMillis() {
        if (!delivered || submitting || applying || !queue.isEmpty()) {
            return 0;
        }
        return (System.nanoTime() - lastActivity) / 1_000_000;
    }

    private void enqueue(ChangeBatch batch) throws InterruptedException {
        if (failure != null) {
            throw failure;
        }
        if (stop.get()) {
            throw new io.migrator.core.spi.ChangeStream.Stopping();
        }
        inFlight.addAndGet(batch.changes().size());
        List<RowChange> coalesced = Coalescer.coalesce(batch.changes());
        // Prefetch one batch ahead, not two: wait until the applier has taken the batch before this one. Rows read
        // earlier wait in the target's cache behind more reads and may be evicted before the applier reaches them (an
        // InnoDB buffer pool keeps pages read once in its old end, 3/8 of the pool; docs/architecture.md, rule 3).
        while (!queue.isEmpty()) {
            if (failure != null) {
                throw failure;
            }
            if (stop.get()) {
                throw new io.migrator.core.spi.ChangeStream.Stopping();
            }
            Thread.sleep(1);
        }
        target.prefetch(coalesced);
        while (!queue.offer(new Work(batch, coalesced), 100, TimeUnit.MILLISECONDS)) {
            if (failure != null) {
                throw failure;
            }
            if (stop.get()) {
                throw new io.migrator.core.spi.ChangeStream.Stopping();
            }
        }
    }

    /** Lets the batch in flight finish (it commits with its checkpoint or not at all); queued ones are replayed next run. */
    @Override
    public void close() {
        stop.set(true);
        // a batch waiting out an outage stops waiting (its transaction commits whole or not at all); and this returns only
        // once the applier has ended: a stream started again after this must never race an old batch to the target
        applier.interrupt();
        boolean interrupted = false;
        while (applier.isAlive()) {
            try {
                applier.join(60_000);
            } catch (InterruptedException e) {
                interrupted = true;
            }
            if (applier.isAlive()) {
                LOG.warn("the applier has not ended yet (a statement still waits for the target, at most network.readTimeout)");
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
