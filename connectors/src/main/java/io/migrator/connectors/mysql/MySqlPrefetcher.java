package io.migrator.connectors.mysql;

import com.zaxxer.hikari.HikariDataSource;
import io.migrator.core.change.RowChange;
import io.migrator.core.schema.TableId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the target rows a batch is about to change, on several connections at once, just before the
 * batch's single transaction applies it. Catch-up on a table larger than the buffer pool is bound by
 * random page reads; one transaction reads them one at a time, these reads overlap. The batch and its
 * checkpoint stay one transaction (rule 2); prefetching is best effort and changes nothing.
 */
final class MySqlPrefetcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MySqlPrefetcher.class);
    /** Below this many keys a batch is applied without prefetching: the overlap would not pay for the round trips. */
    static final int MIN_KEYS = Integer.getInteger("migrator.prefetch.minKeys", 256);
    private static final int KEYS_PER_QUERY = 500;
    /**
     * Reads at once. Each read waits on one page at a time, and a buffer-pool miss waits on the disk (InnoDB reads with
     * O_DIRECT): on the sandbox's disk one connection gets about 10k pages/s, 4 about 20k/s, 16 about 31k/s.
     */
    static final int LANES = Integer.getInteger("migrator.prefetch.lanes", 16);

    private final HikariDataSource pool;
    private final Function<TableId, TableId> onTarget;
    private final int lanes;
    private final ExecutorService executor;

    MySqlPrefetcher(HikariDataSource pool, Function<TableId, TableId> onTarget, int lanes) {
        this.pool = pool;
        this.onTarget = onTarget;
        this.lanes = lanes;
        this.executor = Executors.newFixedThreadPool(lanes, r -> {
            Thread t = new Thread(r, "target-prefetch");
            t.setDaemon(true);
            return t;
        });
    }

    /** Whether a batch of this many changes is worth prefetching at all. */
    boolean worthIt(int changes) {
        return changes >= MIN_KEYS && lanes >= 2;
    }

    /** Reads the rows of {@code changes} on all lanes and waits for the reads (or gives up after 30 s). */
    void prefetch(List<RowChange> changes) {
        for (Future<?> read : submit(changes)) {
            try {
                read.get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                LOG.debug("prefetch skipped: {}", e.toString());
            }
        }
    }

    /** Starts reading the rows of {@code changes} on all lanes and returns at once. */
    void readAhead(List<RowChange> changes) {
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
                reads.add(executor.submit(() -> {
                    try {
                        return read(entry.getKey(), slice);
                    } catch (SQLException e) {
                        LOG.debug("prefetch skipped: {}", e.toString());
                        return null;
                    }
                }));
            }
        }
        return reads;
    }

    private Void read(TableId table, List<RowChange> slice) throws SQLException {
        List<String> keyColumns = slice.get(0).key().columns();
        // A single-column key goes as one IN list: the range optimizer sorts it once, where an OR of equalities costs it
        // a merge per term (measured: a third of the target's CPU in a catch-up went to those prefetch queries).
        String where;
        if (keyColumns.size() == 1) {
            where = MySqlDialect.quote(keyColumns.get(0)) + " IN (" + String.join(", ", java.util.Collections.nCopies(slice.size(), "?")) + ")";
        } else {
            String one = "(" + keyColumns.stream().map(k -> MySqlDialect.quote(k) + " = ?").collect(Collectors.joining(" AND ")) + ")";
            where = String.join(" OR ", java.util.Collections.nCopies(slice.size(), one));
        }
        // COUNT(*) over the primary key: the server still visits every row's leaf page, and sends back one number
        // instead of the rows
        String sql = "SELECT COUNT(*) FROM " + MySqlDialect.quote(onTarget.apply(table)) + " FORCE INDEX (PRIMARY) WHERE " + where;
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            int i = 1;
            for (RowChange change : slice) {
                for (Object value : change.key().values()) {
                    MySqlValues.bind(ps, i++, value);
                }
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next(); // the read itself is the point: it brings the pages into the buffer pool
            }
        } catch (SQLException e) {
            if (e.getErrorCode() == 1176) {
                return null; // no PRIMARY index (a unique key identifies the rows): nothing to force
            }
            throw e;
        }
        return null;
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
