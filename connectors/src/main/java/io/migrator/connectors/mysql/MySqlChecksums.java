package io.migrator.connectors.mysql;

import com.zaxxer.hikari.HikariDataSource;
import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.RowChecksums;
import io.migrator.core.state.Chunk;
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
 * {@code CONCAT_WS('#', v1, LENGTH(v2), v2, ..., nullBitmap)}: character and binary values carry their byte length, so the
 * separator is never ambiguous, and the bitmap tells NULL from empty. Values are compared as stored bytes (collations
 * play no part: 'a' and 'A' differ), TIMESTAMPs in UTC (the pools' session time zone), spatial values as WKB, numbers and
 * dates in the server's text form. Preflight has made sure both sides define the columns alike (same types and charsets).
 * <p>
 * A range's digest is its row count, and the XOR, the sum and the sum of squares of the rows' CRC32: cheap enough to
 * run at full-scan speed (MD5 costs four times as much here). CRC32 detects every change within 32 consecutive bits of a
 * row and misses any other change with probability 2^-32; because CRC32 is linear, the same change made to two rows
 * shifts both by the same XOR and cancels in BIT_XOR, which the sums (the square above all) do not. Ranges that differ
 * are compared row by row with MD5. FLOAT and DOUBLE are compared as DOUBLE text (FLOAT's own text rounds), spatial
 * values as SRID and WKB.
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
            case GEOMETRY -> "CONCAT(ST_SRID(" + c + "), ':', ST_AsWKB(" + c + "))";
            case FLOATING -> "(" + c + " + 0e0)"; // as DOUBLE: FLOAT's own text form rounds to 6 digits and would hide differences
            default -> c;
        };
    }

    /** Values that may contain the separator: strings, bytes, JSON, spatial. Numbers and dates cannot. */
    private static boolean variableText(ColumnDef column) {
        String type = column.type().toLowerCase(Locale.ROOT);
        return MySqlDialect.kind(column) != MySqlDialect.Kind.TEXT || type.contains("char") || type.contains("text") || type.startsWith("enum")
                || type.startsWith("set") || type.startsWith("json") || type.contains("binary") || type.contains("blob");
    }

    static String rowText(TableDef table) {
        List<String> parts = new ArrayList<>();
        List<String> nulls = new ArrayList<>();
        for (ColumnDef column : table.columns()) {
            String v = normalized(column);
            if (variableText(column)) {
                parts.add("OCTET_LENGTH(" + v + ")");
            }
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
        // SUM(h * h): CRC32 is linear, so equal changes to two rows (same bytes, same distance from the end) shift both
        // CRCs by the same XOR and cancel in BIT_XOR; the square does not cancel
        String sql = "SELECT COUNT(*), BIT_XOR(h), COALESCE(SUM(h), 0), COALESCE(SUM(h * h), 0) FROM (SELECT CRC32(" + rowText(table) + ") AS h"
                + from(table) + where(table, range, params) + " LIMIT 18446744073709551615) AS r"; // LIMIT: materialized, one CRC per row
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            KeyRange.bind(ps, params);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new RangeSum(rs.getLong(1), rs.getString(2) + ":" + rs.getString(3) + ":" + rs.getString(4));
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("checksumming " + table.id() + " on the " + side, e);
        }
    }

    /**
     * A single integer key: ranges by arithmetic between MIN and MAX (one index dive each), sized by the table's row
     * estimate. Gaps in the key only make some ranges smaller. Other keys: empty (the validator walks the key).
     */
    @Override
    public List<Chunk> quickRanges(TableDef table, int rowsPerRange) {
        if (table.key().size() != 1) {
            return List.of();
        }
        String type = table.column(table.key().get(0)).type().toLowerCase(Locale.ROOT);
        if (!type.matches("(tiny|small|medium|big)?int.*")) {
            return List.of();
        }
        String key = MySqlDialect.quote(table.key().get(0));
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT MIN(" + key + "), MAX(" + key + ")"
                + from(table)); ResultSet rs = ps.executeQuery()) {
            rs.next();
            if (rs.getString(1) == null) {
                return List.of(new Chunk(0, null, null));
            }
            java.math.BigInteger min = new java.math.BigInteger(rs.getString(1));
            java.math.BigInteger max = new java.math.BigInteger(rs.getString(2));
            long parts = Math.max(1, Math.min(100_000, (table.estimatedRows() + rowsPerRange - 1) / rowsPerRange));
            java.math.BigInteger step = max.subtract(min).divide(java.math.BigInteger.valueOf(parts)).max(java.math.BigInteger.ONE);
            List<Chunk> ranges = new ArrayList<>();
            String lower = null;
            for (java.math.BigInteger bound = min.add(step); bound.compareTo(max) < 0; bound = bound.add(step)) {
                String upper = "[\"s:" + bound + "\"]";
                ranges.add(new Chunk(ranges.size(), lower, upper));
                lower = upper;
            }
            ranges.add(new Chunk(ranges.size(), lower, null)); // open ends: rows below MIN or above MAX written meanwhile count too
            return ranges;
        } catch (SQLException e) {
            throw MySqlErrors.translate("planning ranges of " + table.id() + " on the " + side, e);
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

    /** Key column types whose stream values spell exactly as the server's text: integers, decimals, character and binary strings. */
    private static final java.util.regex.Pattern EXACT_KEY = java.util.regex.Pattern.compile(
            "(tinyint|smallint|mediumint|int|integer|bigint|decimal|numeric|char|varchar|binary|varbinary)\\b.*");

    /**
     * Integers, decimals, text and bytes spell exactly as the chunk bounds do; temporal, BIT and other keys are not
     * looked up by text (their stream values are spelled otherwise), so they are reported as not compared.
     */
    @Override
    public java.util.Optional<String> keyText(TableDef table, io.migrator.core.change.RowKey key) {
        for (String column : key.columns()) {
            var def = table.columns().stream().filter(c -> c.name().equalsIgnoreCase(column)).findFirst().orElse(null);
            if (def == null || !EXACT_KEY.matcher(def.type().toLowerCase(java.util.Locale.ROOT)).matches()) {
                return java.util.Optional.empty();
            }
        }
        List<String> parts = new java.util.ArrayList<>();
        for (Object value : key.values()) {
            if (value instanceof byte[] bytes) {
                parts.add("b:" + java.util.Base64.getEncoder().encodeToString(bytes));
            } else if (value instanceof java.math.BigDecimal d) {
                parts.add("s:" + d.toPlainString());
            } else if (value instanceof Boolean b) {
                parts.add("s:" + (b ? "1" : "0"));
            } else if (value instanceof Number || value instanceof String) {
                parts.add("s:" + value);
            } else {
                return java.util.Optional.empty();
            }
        }
        try {
            return java.util.Optional.of(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(parts));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return java.util.Optional.empty();
        }
    }
}
