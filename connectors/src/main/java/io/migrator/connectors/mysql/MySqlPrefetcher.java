package io.migrator.connectors.mysql;

import io.migrator.core.change.RowChange;
import io.migrator.core.schema.TableId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The MySQL/MariaDB read of {@link io.migrator.connectors.jdbc.RowPrefetcher}: the rows a step of the applier will
 * change, by primary key. InnoDB reads pages with O_DIRECT, one at a time per connection; on the sandbox's disk one
 * connection gets about 10k pages/s, 4 about 20k/s, 16 about 31k/s, hence {@link #LANES}.
 */
final class MySqlPrefetcher implements io.migrator.connectors.jdbc.RowPrefetcher.Reader {
    /** Reads at once. */
    static final int LANES = Integer.getInteger("migrator.prefetch.lanes", 16);

    private final java.util.function.Function<TableId, TableId> onTarget;
    /** Target tables without a PRIMARY index (a unique key identifies their rows): not read ahead, found once. */
    private final java.util.Set<TableId> noPrimary = java.util.concurrent.ConcurrentHashMap.newKeySet();

    MySqlPrefetcher(java.util.function.Function<TableId, TableId> onTarget) {
        this.onTarget = onTarget;
    }

    /** Reads the rows of {@code slice} (keys of source table {@code table}) on {@code c}. */
    @Override
    public void read(Connection c, TableId table, List<RowChange> slice) throws SQLException {
        TableId target = onTarget.apply(table);
        if (noPrimary.contains(target)) {
            return;
        }
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
        String sql = "SELECT COUNT(*) FROM " + MySqlDialect.quote(target) + " FORCE INDEX (PRIMARY) WHERE " + where;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
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
                noPrimary.add(target); // no PRIMARY index: nothing to force, and no query per batch that fails
                return;
            }
            throw e;
        }
    }
}
