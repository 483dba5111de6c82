package io.migrator.connectors.mysql;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.migrator.core.schema.TableDef;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Key-range predicates over a (possibly composite) key, and the text form of key values stored in the
 * chunk plan. Row comparisons are spelled out ({@code a > ? OR (a = ? AND b > ?)}) because MariaDB does
 * not use an index range for {@code (a, b) > (?, ?)}. Binary key parts travel as bytes, everything
 * else in the server's text form, which compares exactly as the column does.
 */
final class KeyRange {
    private static final ObjectMapper JSON = new ObjectMapper();

    private KeyRange() {
    }

    /** Encodes the key columns of the current row. */
    static String encode(ResultSet rs, int keyColumns) throws SQLException {
        List<String> parts = new ArrayList<>();
        for (int i = 1; i <= keyColumns; i++) {
            int type = rs.getMetaData().getColumnType(i);
            boolean binary = type == java.sql.Types.BINARY || type == java.sql.Types.VARBINARY || type == java.sql.Types.LONGVARBINARY
                    || type == java.sql.Types.BLOB;
            parts.add(binary ? "b:" + Base64.getEncoder().encodeToString(rs.getBytes(i)) : "s:" + rs.getString(i));
        }
        try {
            return JSON.writeValueAsString(parts);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<Object> decode(String encoded) {
        try {
            List<String> parts = JSON.readValue(encoded, new TypeReference<List<String>>() { });
            List<Object> values = new ArrayList<>();
            for (String part : parts) {
                values.add(part.startsWith("b:") ? Base64.getDecoder().decode(part.substring(2)) : part.substring(2));
            }
            return values;
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("unreadable chunk bound " + encoded, e);
        }
    }

    /** {@code key > bound} (strict) or {@code key <= bound}, spelled out column by column; params appended in order. */
    static String predicate(TableDef table, List<Object> bound, boolean greater, List<Object> params) {
        List<String> keys = table.key();
        StringBuilder sql = new StringBuilder("(");
        for (int i = 0; i < keys.size(); i++) {
            if (i > 0) {
                sql.append(" OR ");
            }
            sql.append('(');
            for (int j = 0; j < i; j++) {
                sql.append(MySqlDialect.quote(keys.get(j))).append(" = ? AND ");
                params.add(bound.get(j));
            }
            sql.append(MySqlDialect.quote(keys.get(i))).append(greater ? " > ?" : " < ?");
            params.add(bound.get(i));
            sql.append(')');
        }
        if (!greater) {
            sql.append(" OR (");
            for (int j = 0; j < keys.size(); j++) {
                sql.append(j == 0 ? "" : " AND ").append(MySqlDialect.quote(keys.get(j))).append(" = ?");
                params.add(bound.get(j));
            }
            sql.append(')');
        }
        return sql.append(')').toString();
    }

    static void bind(PreparedStatement ps, List<Object> params) throws SQLException {
        for (int i = 0; i < params.size(); i++) {
            Object value = params.get(i);
            if (value instanceof byte[] bytes) {
                ps.setBytes(i + 1, bytes);
            } else {
                ps.setString(i + 1, (String) value);
            }
        }
    }
}
