package io.migrator.core.run;

import io.migrator.core.apply.StreamPlayer;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.schema.TableDef;
import io.migrator.core.snapshot.SnapshotCoordinator;
import io.migrator.core.spi.SourceLogStatus;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.state.ChunkProgress;
import io.migrator.core.state.History;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * What a row migration shows while it runs: the status document (per-table copy progress, lag, ETA, rates, cutover
 * readiness) and, once a second, a sample of the source log's distance and the rates for the dashboard's history. It reads
 * the worker, its copy and its stream player; it changes nothing.
 */
final class Progress {
    private static final Logger LOG = LoggerFactory.getLogger(Progress.class);
    /** Streaming is declared once the applied changes are this close to the source. */
    static final long STREAMING_LAG_MILLIS = 2_000;

    private final Migration worker;
    private final SourceSession source;
    private final StreamPlayer player;
    private final Rate eventRate = new Rate();
    private final Rate rowRate = new Rate();
    private final Rate closingRate = new Rate();
    private volatile SnapshotCoordinator copy;
    private volatile List<TableDef> tables = List.of();
    private volatile List<ChunkProgress> storedChunks = List.of();
    private volatile long snapshotStartedMillis;
    private volatile SourceLogStatus logStatus;
    private volatile Thread sampler;

    Progress(Migration worker, SourceSession source, StreamPlayer player) {
        this.worker = worker;
        this.source = source;
        this.player = player;
    }

    void tables(List<TableDef> tables) {
        this.tables = List.copyOf(tables);
    }

    /** Chunk marks as stored on the target when the worker started: the copy's progress until it runs again. */
    void storedChunks(List<ChunkProgress> chunks) {
        this.storedChunks = List.copyOf(chunks);
    }

    void copying(SnapshotCoordinator copy) {
        this.copy = copy;
    }

    /** When the start position was taken: until a change is applied, the target is behind since then. */
    void snapshotStarted(long millis) {
        this.snapshotStartedMillis = millis;
    }

    long rowsCopied() {
        SnapshotCoordinator s = copy;
        return s != null ? s.rowsCopied() : storedChunks.stream().filter(ChunkProgress::done).mapToLong(ChunkProgress::rows).sum();
    }

    /** Whether the applied changes are close enough to the source to call the migration streaming. */
    boolean caughtUp() {
        long applied = player.lastSourceMillis();
        return applied > 0 && sourceNow() - applied < STREAMING_LAG_MILLIS;
    }

    /**
     * The worker's clock. {@code migrator.clockSkewMillis} shifts it, to test that a skewed worker host changes no lag
     * (the lag is read on the source's clock).
     */
    private static long workerNow() {
        return System.currentTimeMillis() + Long.getLong("migrator.clockSkewMillis", 0L);
    }

    /** The source's clock now: the worker's, corrected by the offset sampled from the source. */
    private long sourceNow() {
        return workerNow() + clockOffsetMillis;
    }

    /** Source clock minus worker clock, as last sampled (0 until then, or when the source cannot say). */
    private volatile long clockOffsetMillis;
    private long clockSampledNanos;

    /** Every 10 s: the source's clock against the worker's, read half-way through the round trip. */
    private void sampleClock() {
        if (clockSampledNanos != 0 && System.nanoTime() - clockSampledNanos < 10_000_000_000L) {
            return;
        }
        clockSampledNanos = System.nanoTime();
        try {
            long before = workerNow();
            java.util.OptionalLong at = source.clockMillis();
            long after = workerNow();
            if (at.isPresent() && after - before < 2_000) {
                clockOffsetMillis = at.getAsLong() - (before + after) / 2;
            }
        } catch (RuntimeException e) {
            LOG.debug("could not read the source's clock: {}", e.toString());
        }
    }

    MigrationStatus status() {
        Phase p = worker.phase.get();
        boolean paused = worker.paused.get();
        long now = System.currentTimeMillis();
        Double lagSeconds = lagSeconds(p);
        // cut over: the forward stream has ended, and a lag growing from its last event would page someone for nothing
        SourceLogStatus log = p == Phase.CUT_OVER ? null : logStatus;
        Long bytes = log == null ? null : log.bytesBehind();
        Double eta = null;
        if (bytes != null && (p == Phase.CATCH_UP || p == Phase.STREAMING)) {
            Double closing = closingRate.value();
            boolean caughtUp = bytes == 0 || lagSeconds != null && lagSeconds * 1000 < STREAMING_LAG_MILLIS;
            if (caughtUp) {
                eta = 0.0;
            } else if (closing != null && closing > 0 && !paused) {
                eta = bytes / closing;
            }
        }
        MigrationStatus.Lag lag = new MigrationStatus.Lag(lagSeconds, player.inFlightEvents(), bytes, eta,
                log == null ? null : log.retentionHeadroomSeconds(), log == null ? null : log.retainedBytes());
        Double events = eventRate.value();
        MigrationStatus.Validation validation = worker.validation;
        boolean ready = worker.cutoverReady(p, paused, lagSeconds);
        return new MigrationStatus(worker.plan.name(), p, paused, new MigrationStatus.Worker(true, worker.listen, worker.startedAt.toString()),
                lag, copyStatus(p), new MigrationStatus.Applied(player.appliedEvents(), player.appliedPositionText(), events),
                new MigrationStatus.Throughput(rowRate.value(), events), validation, ready, List.copyOf(worker.phases), worker.error,
                worker.retry.retries(), Instant.ofEpochMilli(now).toString()).withDegraded(worker.degraded());
    }

    /** The source's retention headroom as last sampled (null: unknown, or the source does not purge by age). */
    Double headroomSeconds() {
        SourceLogStatus log = logStatus;
        if (log == null || log.retentionHeadroomSeconds() == null) {
            return null;
        }
        // not refreshed while the source cannot be reached: the headroom shrinks by the time since it was read
        return log.retentionHeadroomSeconds() - (System.nanoTime() - logSampledNanos) / 1e9;
    }

    private volatile long logSampledNanos = System.nanoTime();

    private Double lagSeconds(Phase p) {
        if (p == Phase.CUT_OVER) {
            return null;
        }
        long applied = player.lastSourceMillis(); // stamped by the source's clock: compared with the source's clock
        if (applied > 0) {
            return Math.max(0, sourceNow() - applied) / 1000.0;
        }
        if ((p == Phase.SNAPSHOT || p == Phase.CATCH_UP) && snapshotStartedMillis > 0) {
            return Math.max(0, System.currentTimeMillis() - snapshotStartedMillis) / 1000.0; // nothing applied yet: behind since P0
        }
        return null;
    }

    private MigrationStatus.Snapshot copyStatus(Phase p) {
        SnapshotCoordinator s = copy;
        Map<String, List<ChunkProgress>> stored = new HashMap<>();
        for (ChunkProgress c : storedChunks) {
            stored.computeIfAbsent(c.table().name(), k -> new ArrayList<>()).add(c);
        }
        boolean copied = p.ordinal() > Phase.SNAPSHOT.ordinal() && p != Phase.FAILED && p != Phase.PAUSED;
        List<MigrationStatus.TableProgress> rows = new ArrayList<>();
        long copiedRows = 0;
        long estimated = 0;
        int done = 0;
        for (TableDef table : tables) {
            SnapshotCoordinator.TableCounts counts = s == null ? null : s.table(table.id());
            long tableRows;
            int chunksDone;
            int chunksTotal;
            if (counts != null) {
                tableRows = counts.rows();
                chunksDone = counts.chunksDone();
                chunksTotal = counts.chunksTotal();
            } else {
                List<ChunkProgress> chunks = stored.getOrDefault(table.id().name(), List.of());
                tableRows = chunks.stream().filter(ChunkProgress::done).mapToLong(ChunkProgress::rows).sum();
                chunksDone = (int) chunks.stream().filter(ChunkProgress::done).count();
                chunksTotal = chunks.size();
            }
            boolean tableDone = copied || chunksTotal > 0 && chunksDone == chunksTotal;
            long tableEstimate = tableDone ? tableRows : Math.max(table.estimatedRows(), tableRows);
            rows.add(new MigrationStatus.TableProgress(table.id().toString(), tableRows, tableEstimate, chunksDone, chunksTotal, tableDone));
            copiedRows += tableRows;
            estimated += tableEstimate;
            done += tableDone ? 1 : 0;
        }
        return new MigrationStatus.Snapshot(done, tables.size(), copiedRows, estimated, rows);
    }

    /** Once a second: source log distance, rates, the history the dashboard draws. */
    private void sample() {
        long nanos = System.nanoTime();
        Phase p = worker.phase.get();
        if (p == Phase.SNAPSHOT || p == Phase.CATCH_UP || p == Phase.STREAMING) {
            sampleClock();
        }
        if (p == Phase.SNAPSHOT || p == Phase.CATCH_UP || p == Phase.STREAMING) {
            SourcePosition applied = player.appliedPosition();
            SourcePosition at = applied != null ? applied : worker.startPosition();
            if (at != null) {
                long neededSince = player.lastSourceMillis() > 0 ? player.lastSourceMillis() : snapshotStartedMillis;
                try {
                    SourceLogStatus log = source.logStatus(at, neededSince > 0 ? neededSince : System.currentTimeMillis()).orElse(null);
                    logStatus = log;
                    logSampledNanos = System.nanoTime();
                    if (log != null) {
                        closingRate.update(-log.bytesBehind(), nanos);
                    }
                } catch (RuntimeException e) {
                    LOG.debug("could not read the source log position: {}", e.toString());
                }
            }
        }
        eventRate.update(player.appliedEvents(), nanos);
        rowRate.update(rowsCopied(), nanos);
        MigrationStatus status = status();
        SourceLogStatus log = logStatus;
        worker.history.add(new History.Sample(Instant.now().getEpochSecond(), status.lag().seconds(),
                log == null ? null : log.bytesBehind(), status.throughput().eventsPerSecond(), status.throughput().rowsPerSecond()));
    }

    void startSampling(AtomicBoolean stop) {
        Thread t = new Thread(() -> {
            MDC.put("migration", worker.plan.name());
            while (!stop.get() && !Thread.currentThread().isInterrupted()) {
                try {
                    sample();
                } catch (RuntimeException e) {
                    LOG.debug("status sample failed: {}", e.toString());
                }
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "status-sampler");
        t.setDaemon(true);
        t.start();
        sampler = t;
    }

    void stopSampling() {
        Thread t = sampler;
        if (t != null) {
            t.interrupt();
        }
    }
}
