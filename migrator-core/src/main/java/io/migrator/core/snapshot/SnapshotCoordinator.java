package io.migrator.core.snapshot;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.error.Retry;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.state.Chunk;
import io.migrator.core.state.ChunkProgress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies tables in key-range chunks, {@code parallelism} at a time. The chunk plan is stored on the
 * target first; each chunk's rows and its done mark commit in one target transaction, so a restart
 * copies exactly the chunks that were not done.
 */
public final class SnapshotCoordinator {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotCoordinator.class);

    private final SourceSession source;
    private final TargetSession target;
    private final int parallelism;
    private final int chunkRows;
    private final Retry retry;
    private final AtomicLong rowsCopied = new AtomicLong();
    private final Map<TableId, Integer> chunksLeft = new ConcurrentHashMap<>();
    private final Throttler throttler;

    private final Map<TableId, TableCounts> perTable = new ConcurrentHashMap<>();

    /** Per-table progress for status and metrics: rows and chunks done of the planned chunks. */
    public static final class TableCounts {
        private final AtomicLong rows = new AtomicLong();
        private final java.util.concurrent.atomic.AtomicInteger chunksDone = new java.util.concurrent.atomic.AtomicInteger();
        private volatile int chunksTotal;

        public long rows() {
            return rows.get();
        }

        public int chunksDone() {
            return chunksDone.get();
        }

        public int chunksTotal() {
            return chunksTotal;
        }
    }

    public SnapshotCoordinator(SourceSession source, TargetSession target, io.migrator.core.plan.Plan.Snapshot settings, Retry retry) {
        this(source, target, settings, retry, () -> false);
    }

    /** {@code hold}: while true, workers wait before their next batch (pause). */
    public SnapshotCoordinator(SourceSession source, TargetSession target, io.migrator.core.plan.Plan.Snapshot settings, Retry retry,
                               java.util.function.BooleanSupplier hold) {
        this.source = source;
        this.target = target;
        this.parallelism = settings.parallelism();
        this.chunkRows = settings.chunkRows();
        this.retry = retry;
        this.throttler = new Throttler(settings.maxRowsPerSecond(), settings.maxSourceThreadsRunning(), source, hold);
    }

    /** Progress of a table the copy knows (planned in this run), or null. */
    public TableCounts table(TableId table) {
        return perTable.get(table);
    }

    public long throttledMillis() {
        return throttler.waitedMillis();
    }

    public long rowsCopied() {
        return rowsCopied.get();
    }

    /** Tables whose chunks are all done. */
    public int tablesDone(int total) {
        return total - (int) chunksLeft.values().stream().filter(n -> n > 0).count();
    }

    /** Copies what is not done yet; returns false when stopped before the end. */
    public boolean copy(List<TableDef> tables, AtomicBoolean stop) {
        record Work(TableDef table, Chunk chunk) {
        }
        List<Work> todo = new ArrayList<>();
        for (TableDef table : tables) {
            List<ChunkProgress> progress = target.chunks(table.id());
            if (progress.isEmpty()) {
                target.saveChunkPlan(table.id(), source.planChunks(table, chunkRows));
                progress = target.chunks(table.id());
            }
            int left = 0;
            TableCounts counts = perTable.computeIfAbsent(table.id(), t -> new TableCounts());
            counts.chunksTotal = progress.size();
            for (ChunkProgress p : progress) {
                if (p.done()) {
                    rowsCopied.addAndGet(p.rows());
                    counts.rows.addAndGet(p.rows());
                    counts.chunksDone.incrementAndGet();
                } else {
                    todo.add(new Work(table, p.chunk()));
                    left++;
                }
            }
            chunksLeft.put(table.id(), left);
        }
        todo = interleaved(todo, Work::table);
        LOG.info("snapshot: {} chunks to copy in {} tables ({} parallel)", todo.size(), tables.size(), parallelism);
        ExecutorService pool = Executors.newFixedThreadPool(parallelism, r -> {
            Thread t = new Thread(r, "snapshot-worker");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (Work work : todo) {
                futures.add(pool.submit((java.util.concurrent.Callable<Void>) () -> {
                    if (stop.get()) {
                        return null;
                    }
                    throttler.beforeChunk();
                    retry.run("copying chunk " + work.chunk().number() + " of " + work.table().id(), () -> copyChunk(work.table(), work.chunk()));
                    chunksLeft.merge(work.table().id(), -1, Integer::sum);
                    return null;
                }));
            }
            for (Future<?> future : futures) {
                try {
                    future.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    stop.set(true);
                    Throwable cause = e.getCause();
                    if (cause instanceof MigratorException m) {
                        throw m;
                    }
                    throw new MigratorException(ErrorCode.INTERNAL, "snapshot failed: " + cause, null, cause);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stop.set(true);
        } finally {
            pool.shutdownNow();
            try {
                pool.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return !stop.get() && chunksLeft.values().stream().allMatch(n -> n == 0);
    }

    /**
     * The chunks in turns across tables (first chunk of each table, then the second of each, ...), so parallel workers
     * mostly write different tables: writers of one table contend on its locks (MariaDB's table-level AUTO-INC lock for
     * a LOAD DATA, the last index page, PostgreSQL's relation extension lock). Within a table the key order is kept.
     */
    static <W> List<W> interleaved(List<W> work, Function<W, TableDef> table) {
        Map<TableId, ArrayDeque<W>> byTable = new LinkedHashMap<>();
        for (W w : work) {
            byTable.computeIfAbsent(table.apply(w).id(), t -> new ArrayDeque<>()).add(w);
        }
        List<W> out = new ArrayList<>(work.size());
        while (out.size() < work.size()) {
            for (ArrayDeque<W> queue : byTable.values()) {
                if (!queue.isEmpty()) {
                    out.add(queue.poll());
                }
            }
        }
        return out;
    }

    private void copyChunk(TableDef table, Chunk chunk) {
        try (TargetSession.ChunkWriter writer = target.beginChunk(table, chunk)) {
            java.util.Optional<String> format = source.rawFormat(table);
            SourceSession.RawSink raw = format.isPresent() ? writer.raw(format.get()) : null;
            if (raw != null) {
                // same engine on both sides: the chunk's bytes go through as the source sent them
                long rows = source.copyChunk(table, chunk, format.get(), raw);
                writer.commit(rows);
                counted(table, rows);
                try {
                    throttler.rowsRead((int) Math.min(Integer.MAX_VALUE, rows));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return;
            }
            long rows = source.readChunk(table, chunk, batch -> {
                writer.write(batch);
                try {
                    throttler.rowsRead(batch.size());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new MigratorException(ErrorCode.INTERNAL, "interrupted while throttled", "run again to resume");
                }
            });
            writer.commit(rows);
            counted(table, rows);
        }
    }

    private void counted(TableDef table, long rows) {
        rowsCopied.addAndGet(rows);
        TableCounts counts = perTable.get(table.id());
        if (counts != null) {
            counts.rows.addAndGet(rows);
            counts.chunksDone.incrementAndGet();
        }
    }

    /** Secondary indexes the target left out for the copy are built now, several tables at once; false when stopped first. */
    public boolean buildDeferredIndexes(List<TableDef> tables, AtomicBoolean stop) {
        long started = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(parallelism);
        try {
            List<Future<?>> builds = new ArrayList<>();
            for (TableDef table : tables) {
                builds.add(pool.submit(() -> {
                    if (!stop.get()) {
                        retry.run("building the indexes of " + table.id(), () -> target.buildDeferredIndexes(table));
                    }
                }));
            }
            for (Future<?> build : builds) {
                try {
                    build.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof MigratorException m) {
                        throw m;
                    }
                    throw new MigratorException(ErrorCode.INTERNAL, "building indexes failed: " + e.getCause(), null, e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    stop.set(true);
                    return false;
                }
            }
        } finally {
            pool.shutdownNow();
        }
        LOG.info("secondary indexes built in {} ms", (System.nanoTime() - started) / 1_000_000);
        return !stop.get();
    }
}
