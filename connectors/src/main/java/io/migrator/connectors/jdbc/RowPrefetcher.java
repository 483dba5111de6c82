package io.migrator.connectors.jdbc;

import io.migrator.core.change.RowChange;
import io.migrator.core.schema.TableId;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the target rows the applier is about to change, on several connections at once, so their pages are in the
 * target's cache when the applier's single transaction reaches them. Catch-up of tables larger than that cache is bound
 * by page reads (and the evictions they cause), which one transaction does one at a time; these overlap, on other
 * connections and cores. Best effort: a failed read is logged at debug level and changes nothing. The batch and its
 * checkpoint stay one transaction (docs/architecture.md, rule 2).
 */
public final class RowPrefetcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RowPrefetcher.class);
    /** Below this many changes a batch is applied without reading ahead: the overlap would not pay for the round trips. */
    public static final int MIN_KEYS = Integer.getInteger("migrator.prefetch.minKeys", 256);
    private static final int KEYS_PER_QUERY = 500;

    /** Reads the target rows of {@code slice} (one table) on {@code connection}. */
    public interface Reader {
        void read(Connection connection, TableId table, List<RowChange> slice) throws SQLException;
    }

    private final DataSource pool;
    private final int lanes;
    private final Reader reader;
    private final ExecutorService executor;
    /** Reads submitted and not finished. */
    private final java.util.concurrent.atomic.AtomicInteger pending = new java.util.concurrent.atomic.AtomicInteger();

    public RowPrefetcher(DataSource pool, int lanes, Reader reader) {
        this.pool = pool;
        this.lanes = lanes;
        this.reader = reader;
        this.executor = Executors.newFixedThreadPool(Math.max(1, lanes), r -> {
            Thread t = new Thread(r, "target-prefetch");
            t.setDaemon(true);
            return t;
        });
    }

    /** Whether a batch of this many changes is worth reading ahead at all. */
    public boolean worthIt(int changes) {
        return changes >= MIN_KEYS && lanes >= 2;
    }

    /** Reads the rows of {@code changes} on all lanes and waits for the reads, 30 s at most in all (say a lock holds one). */
    public void prefetch(List<RowChange> changes) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (Future<?> read : submit(changes)) {
            try {
                read.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (Exception e) {
                LOG.debug("prefetch skipped: {}", e.toString());
            }
        }
    }

    /**
     * Starts reading the rows of {@code changes} on all lanes and returns at once; does nothing while earlier reads are
     * still queued (the applier has overtaken them: more reads would only arrive later still, and pile up).
     */
    public void readAhead(List<RowChange> changes) {
        if (pending.get() > lanes) {
            return;
        }
        submit(changes);
    }

    private List<Future<?>> submit(List<RowChange> changes) {
        Map<TableId, List<RowChange>> byTable = changes.stream()
                .collect(Collectors.groupingBy(c -> c.key().table(), LinkedHashMap::new, Collectors.toList()));
        List<Future<?>> reads = new ArrayList<>();
        // slices small enough that every lane gets work, large enough to keep the round trips few
        int perQuery = Math.max(64, Math.min(KEYS_PER_QUERY, (changes.size() + lanes - 1) / lanes));
        for (var entry : byTable.entrySet()) {
            List<RowChange> keys = entry.getValue();
            for (int from = 0; from < keys.size(); from += perQuery) {
                List<RowChange> slice = keys.subList(from, Math.min(keys.size(), from + perQuery));
                pending.incrementAndGet();
                try {
                    reads.add(executor.submit(() -> {
                        try (Connection c = pool.getConnection()) {
                            reader.read(c, entry.getKey(), slice);
                        } catch (SQLException e) {
                            LOG.debug("prefetch skipped: {}", e.toString());
                        } finally {
                            pending.decrementAndGet();
                        }
                        return null;
                    }));
                } catch (java.util.concurrent.RejectedExecutionException closing) {
                    pending.decrementAndGet(); // closed while a batch was still being applied: it goes without the reads
                    return reads;
                }
            }
        }
        return reads;
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
