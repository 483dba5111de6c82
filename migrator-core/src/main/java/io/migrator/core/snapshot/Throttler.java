package io.migrator.core.snapshot;

import io.migrator.core.spi.SourceSession;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the copy polite: a shared rows-per-second budget across workers, and a pause between chunks
 * while the source is busier than the plan allows. Time spent waiting is counted for status and metrics.
 */
public final class Throttler {
    private static final Logger LOG = LoggerFactory.getLogger(Throttler.class);

    private final long maxRowsPerSecond;
    private final int maxThreadsRunning;
    private final SourceSession source;
    private final long startNanos = System.nanoTime();
    private final AtomicLong rows = new AtomicLong();
    private final AtomicLong waitedMillis = new AtomicLong();
    private final java.util.function.BooleanSupplier hold;

    public Throttler(long maxRowsPerSecond, int maxThreadsRunning, SourceSession source) {
        this(maxRowsPerSecond, maxThreadsRunning, source, () -> false);
    }

    /** {@code hold}: while true (the migration is paused), every worker waits at its next batch or chunk. */
    public Throttler(long maxRowsPerSecond, int maxThreadsRunning, SourceSession source, java.util.function.BooleanSupplier hold) {
        this.maxRowsPerSecond = maxRowsPerSecond;
        this.maxThreadsRunning = maxThreadsRunning;
        this.source = source;
        this.hold = hold;
    }

    private void holdWhilePaused() throws InterruptedException {
        while (hold.getAsBoolean()) {
            Thread.sleep(100);
        }
    }

    public long waitedMillis() {
        return waitedMillis.get();
    }

    /** Called with each batch read: sleeps as long as the copy is ahead of its rate. */
    public void rowsRead(int count) throws InterruptedException {
        holdWhilePaused();
        if (maxRowsPerSecond <= 0) {
            return;
        }
        long total = rows.addAndGet(count);
        long dueMillis = total * 1000 / maxRowsPerSecond;
        long elapsedMillis = (System.nanoTime() - startNanos) / 1_000_000;
        if (dueMillis > elapsedMillis) {
            long sleep = dueMillis - elapsedMillis;
            waitedMillis.addAndGet(sleep);
            Thread.sleep(sleep);
        }
    }

    /** Called before each chunk: waits while the source runs more threads than allowed. */
    public void beforeChunk() throws InterruptedException {
        holdWhilePaused();
        if (maxThreadsRunning <= 0) {
            return;
        }
        boolean logged = false;
        int running;
        while ((running = source.threadsRunning()) > maxThreadsRunning) {
            if (!logged) {
                LOG.info("source busy ({} threads running, limit {}): the copy waits", running, maxThreadsRunning);
                logged = true;
            }
            waitedMillis.addAndGet(500);
            Thread.sleep(500);
        }
    }
}
