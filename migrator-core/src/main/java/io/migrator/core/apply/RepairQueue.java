package io.migrator.core.apply;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.schema.TableDef;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Repairs (validation's {@code --repair}) run on the applier thread between batches, so a repaired row is never written
 * concurrently with a batch that changes it. Without a running applier nothing else writes, so they apply on the
 * caller's thread; a repair queued just before the applier stopped is taken back and applied there too.
 */
final class RepairQueue {
    /** Writes the source's current images of these rows on the target. */
    @FunctionalInterface
    interface Repair {
        void apply(TableDef table, List<String> keys);
    }

    private record Task(TableDef table, List<String> keys, CompletableFuture<Void> done) {
    }

    private final BlockingQueue<Task> queue = new LinkedBlockingQueue<>();
    private final Repair repair;
    private volatile boolean applierRunning;

    RepairQueue(Repair repair) {
        this.repair = repair;
    }

    void applierRunning(boolean running) {
        applierRunning = running;
    }

    /** Repairs the rows through the applier, or here when none runs; returns once they are written. */
    void repair(TableDef table, List<String> keys) {
        if (!applierRunning) {
            repair.apply(table, keys);
            return;
        }
        Task task = new Task(table, keys, new CompletableFuture<>());
        queue.add(task);
        try {
            while (true) {
                try {
                    task.done().get(500, TimeUnit.MILLISECONDS);
                    return;
                } catch (TimeoutException e) {
                    if (!applierRunning && queue.remove(task)) {
                        repair.apply(table, keys);
                        return;
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.INTERNAL, "interrupted while repairing", "validate with --repair again");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof MigratorException m) {
                throw m;
            }
            throw new MigratorException(ErrorCode.INTERNAL, "repair failed: " + e.getCause(), "validate with --repair again", e.getCause());
        }
    }

    /** On the applier thread: runs one queued repair, if any; true when it ran one. */
    boolean runOne() {
        Task task = queue.poll();
        if (task == null) {
            return false;
        }
        try {
            repair.apply(task.table(), task.keys());
            task.done().complete(null);
        } catch (RuntimeException e) {
            task.done().completeExceptionally(e);
        }
        return true;
    }
}
