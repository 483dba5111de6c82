package io.migrator.connectors.mysql;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.List;

/** Binds values as they come from a chunk read or a converted change event. */
final class MySqlValues {
    private MySqlValues() {
    }

    /** Values from this size on go one statement at a time: the driver's bulk protocol fails on them. */
    static final int LARGE_VALUE_BYTES = 1 << 20;

    /** Executes one statement per row: as one bulk batch, or row by row when a row holds a large value. */
    static void executeRows(PreparedStatement ps, List<? extends List<Object>> rows) throws SQLException {
        boolean large = rows.stream().anyMatch(row -> row.stream().anyMatch(MySqlValues::isLarge));
        for (List<Object> row : rows) {
            bindRow(ps, 1, row);
            if (large) {
                ps.executeUpdate();
            } else {
                ps.addBatch();
            }
        }
        if (!large) {
            ps.executeBatch();
        }
    }

    /**
     * Writes rows with multi-row statements ({@code head} + "(?, ...), (?, ...)" + {@code tail}): one parse and
     * one round trip for many rows, which is what keeps a single apply connection fast. Rows holding a large
     * value go one statement each, ahead of the rows still pending: callers pass rows of distinct keys, whose
     * order does not change the result (docs/architecture.md, rule 1).
     */
    static void executeMultiRow(Connection c, String head, String rowPlaceholders, String tail, List<? extends List<Object>> rows)
            throws SQLException {
        if (rows.isEmpty()) {
            return;
        }
        int columns = rows.get(0).size();
        int perStatement = Math.max(1, Math.min(MULTI_ROW_MAX, 60_000 / Math.max(1, columns)));
        List<List<Object>> pending = new java.util.ArrayList<>();
        long pendingBytes = 0;
        for (List<Object> row : rows) {
            if (row.stream().anyMatch(MySqlValues::isLarge)) {
                try (PreparedStatement ps = c.prepareStatement(head + rowPlaceholders + tail)) {
                    bindRow(ps, 1, row);
                    ps.executeUpdate();
                }
                continue;
            }
            pending.add(row);
            pendingBytes += row.stream().mapToLong(MySqlValues::size).sum();
            if (pending.size() == perStatement || pendingBytes >= MULTI_ROW_BYTES) {
                flush(c, head, rowPlaceholders, tail, pending);
                pending.clear();
                pendingBytes = 0;
            }
        }
        flush(c, head, rowPlaceholders, tail, pending);
    }

    private static final int MULTI_ROW_MAX = 1_000;
    private static final long MULTI_ROW_BYTES = 4L << 20;

    private static void flush(Connection c, String head, String rowPlaceholders, String tail, List<List<Object>> rows) throws SQLException {
        if (rows.isEmpty()) {
            return;
        }
        StringBuilder sql = new StringBuilder(head.length() + rows.size() * (rowPlaceholders.length() + 2) + tail.length());
        sql.append(head);
        for (int i = 0; i < rows.size(); i++) {
            sql.append(i == 0 ? "" : ", ").append(rowPlaceholders);
        }
        sql.append(tail);
        try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            int index = 1;
            for (List<Object> row : rows) {
                index = bindRow(ps, index, row);
            }
            ps.executeUpdate();
        }
    }

    private static long size(Object value) {
        return value instanceof byte[] b ? b.length : value instanceof String s ? 2L * s.length() : 8;
    }

    /** Binds a row's values from parameter {@code first} on; returns the next free parameter index. */
    private static int bindRow(PreparedStatement ps, int first, List<Object> row) throws SQLException {
        int index = first;
        for (Object value : row) {
            bind(ps, index++, value);
        }
        return index;
    }

    static boolean isLarge(Object value) {
        return value instanceof byte[] b && b.length >= LARGE_VALUE_BYTES || value instanceof String s && s.length() >= LARGE_VALUE_BYTES / 4;
    }

    static void bind(PreparedStatement ps, int index, Object value) throws SQLException {
        if (value == null) {
            ps.setNull(index, Types.NULL);
        } else if (value instanceof String s) {
            ps.setString(index, s);
        } else if (value instanceof byte[] b) {
            ps.setBytes(index, b);
        } else if (value instanceof Double d) {
            ps.setDouble(index, d);
        } else if (value instanceof Float f) {
            ps.setFloat(index, f);
        } else if (value instanceof Long l) {
            ps.setLong(index, l);
        } else if (value instanceof Integer i) {
            ps.setInt(index, i);
        } else if (value instanceof Short s) {
            ps.setShort(index, s);
        } else if (value instanceof BigDecimal d) {
            ps.setBigDecimal(index, d);
        } else if (value instanceof Boolean b) {
            ps.setBoolean(index, b);
        } else {
            ps.setObject(index, value);
        }
    }
}
