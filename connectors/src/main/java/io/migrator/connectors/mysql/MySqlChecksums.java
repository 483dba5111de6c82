package io.migrator.connectors.mysql;

import com.zaxxer.hikari.HikariDataSource;
import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.snapshot.Chunk;
import io.migrator.core.spi.RowChecksums;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Checksums inside MySQL/MariaDB, the same SQL on both sides. A row's text form is
 * {@code CONCAT_WS('#', LENGTH(v1), v1, LENGTH(v2), v2, ..., nullBitmap)} where every value is normalized: character
 * data converted to utf8mb4 bytes (so the same text under another charset or collation hashes the same, while 'a' and
 * 'A' still differ), TIMESTAMPs in UTC (the pools' session time zone), spatial values as WKB, everything else in the
 * server's text form. Lengths make the separator unambiguous and the bitmap tells NULL from empty. The row hash is its
 * MD5; a range's digest is the count and the XOR of the first 64 bits of every row hash, computed by the server.
 */
final class MySqlChecksums implements RowChecksums {
    private static final int KEYS_PER_QUERY = 500;

    private final HikariDataSource pool;
    private final Function<TableId, TableId> physical;
    private final String side;

    MySqlChecksums(HikariDataSource pool, Function<TableId, TableId> physical, String side) {
        this.pool = pool;
        this.physical = physical;
        this.side = side;
    }

    static String normalized(ColumnDef column) {
        String c = MySqlDialect.quote(column.name());
        String type = column.type().toLowerCase(Locale.ROOT);
        return switch (MySqlDialect.kind(column)) {
            case GEOMETRY -> "ST_AsWKB(" + c + ")";
            case BYTES, FLOATING -> c;
            default -> type.contains("char") || type.contains("text") || type.startsWith("enum") || type.startsWith("set")
                    || type.equals("json") ? "CONVERT(" + c + " USING utf8mb4)" : c;
        };
    }

    static String rowText(TableDef table) {
        List<String> parts = new ArrayList<>();
        List<String> nulls = new ArrayList<>();
        for (ColumnDef column : table.columns()) {
            String v = normalized(column);
            parts.add("OCTET_LENGTH(" + v + ")");
            parts.add(v);
            nulls.add("ISNULL(" + MySqlDialect.quote(column.name()) + ")");
        }
        parts.add("CONCAT(" + String.join(", ", nulls) + ")");
        return "CONCAT_WS('#', " + String.join(", ", parts) + ")";
    }

    private String from(TableDef table) {
        return " FROM " + MySqlDialect.quote(physical.apply(table.id()));
    }

    private static String where(TableDef table, Chunk range, List<Object> params) {
        List<String> conditions = new ArrayList<>();
        if (range.lower() != null) {
            conditions.add(KeyRange.predicate(table, KeyRange.decode(range.lower()), true, params));
        }
        if (range.upper() != null) {
            conditions.add(KeyRange.predicate(table, KeyRange.decode(range.upper()), false, params));
        }
        return conditions.isEmpty() ? "" : " WHERE " + String.join(" AND ", conditions);
    }

    private static String keyList(TableDef table) {
        return table.key().stream().map(MySqlDialect::quote).collect(Collectors.joining(", "));
    }

    @Override
    public RangeSum checksum(TableDef table, Chunk range) {
        List<Object> params = new ArrayList<>();
        String sql = "SELECT COUNT(*), COALESCE(BIT_XOR(CAST(CONV(LEFT(MD5(" + rowText(table) + "), 16), 16, 10) AS UNSIGNED)), 0)"
                + from(table) + where(table, range, params);
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            KeyRange.bind(ps, params);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new RangeSum(rs.getLong(1), rs.getString(2));
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("checksumming " + table.id() + " on the " + side, e);
        }
    }

    @Override
    public Optional<String> midKey(TableDef table, Chunk range, long rows) {
        if (rows < 2) {
            return Optional.empty();
        }
        List<Object> params = new ArrayList<>();
        String sql = "SELECT " + keyList(table) + from(table) + where(table, range, params) + " ORDER BY " + keyList(table)
                + " LIMIT 1 OFFSET " + (rows / 2 - 1);
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            KeyRange.bind(ps, params);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(KeyRange.encode(rs, table.key().size())) : Optional.empty();
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("splitting a range of " + table.id() + " on the " + side, e);
        }
    }

    @Override
    public Map<String, String> rowHashes(TableDef table, Chunk range) {
        List<Object> params = new ArrayList<>();
        String sql = "SELECT " + keyList(table) + ", MD5(" + rowText(table) + ")" + from(table) + where(table, range, params);
        return hashes(table, sql, params);
    }

    @Override
    public Map<String, String> rowHashes(TableDef table, List<String> keys) {
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < keys.size(); i += KEYS_PER_QUERY) {
            List<Object> params = new ArrayList<>();
            String sql = "SELECT " + keyList(table) + ", MD5(" + rowText(table) + ")" + from(table) + " WHERE "
                    + keysPredicate(table, keys.subList(i, Math.min(keys.size(), i + KEYS_PER_QUERY)), params);
            out.putAll(hashes(table, sql, params));
        }
        return out;
    }

    static String keysPredicate(TableDef table, List<String> keys, List<Object> params) {
        if (table.key().size() == 1) {
            keys.forEach(k -> params.add(KeyRange.decode(k).get(0)));
            return MySqlDialect.quote(table.key().get(0)) + " IN (" + String.join(", ", java.util.Collections.nCopies(keys.size(), "?")) + ")";
        }
        List<String> ors = new ArrayList<>();
        for (String key : keys) {
            List<Object> values = KeyRange.decode(key);
            ors.add("(" + table.key().stream().map(k -> MySqlDialect.quote(k) + " = ?").collect(Collectors.joining(" AND ")) + ")");
            params.addAll(values);
        }
        return "(" + String.join(" OR ", ors) + ")";
    }

    private Map<String, String> hashes(TableDef table, String sql, List<Object> params) {
        Map<String, String> out = new LinkedHashMap<>();
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            KeyRange.bind(ps, params);
            try (ResultSet rs = ps.executeQuery()) {
                int n = table.key().size();
                while (rs.next()) {
                    out.put(KeyRange.encode(rs, n), rs.getString(n + 1));
                }
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading row hashes of " + table.id() + " on the " + side, e);
        }
        return out;
    }

    @Override
    public Map<String, String> columnHashes(TableDef table, String key) {
        List<Object> params = new ArrayList<>();
        String columns = table.columns().stream().map(col -> "IF(" + MySqlDialect.quote(col.name()) + " IS NULL, 'NULL', MD5("
                + normalized(col) + "))").collect(Collectors.joining(", "));
        String sql = "SELECT " + columns + from(table) + " WHERE " + keysPredicate(table, List.of(key), params);
        Map<String, String> out = new LinkedHashMap<>();
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            KeyRange.bind(ps, params);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    for (int i = 0; i < table.columns().size(); i++) {
                        out.put(table.columns().get(i).name(), rs.getString(i + 1));
                    }
                }
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading column hashes of " + table.id() + " on the " + side, e);
        }
        return out;
    }

    @Override
    public Map<String, Object> describeKey(TableDef table, String key) {
        List<Object> values = KeyRange.decode(key);
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < table.key().size(); i++) {
            Object v = values.get(i);
            out.put(table.key().get(i), v instanceof byte[] b ? "0x" + HexFormat.of().formatHex(b) : v);
        }
        return out;
    }
}
