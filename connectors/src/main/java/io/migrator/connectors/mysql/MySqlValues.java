package io.migrator.connectors.mysql;

import java.math.BigDecimal;
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
            for (int i = 0; i < row.size(); i++) {
                bind(ps, i + 1, row.get(i));
            }
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
