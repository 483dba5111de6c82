package io.migrator.connectors.postgres;

import com.zaxxer.hikari.HikariDataSource;
import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.spi.RowChecksums;
import io.migrator.core.state.Chunk;
import java.math.BigInteger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Checksums inside PostgreSQL, the same SQL on both sides. A row's text form is its composite text ({@code ROW(...)::text}):
 * every value in its type's output form, quoted where needed, NULL (nothing) apart from the empty string ({@code ""}).
 * Each query runs with the settings that make output forms independent of the session: UTC, ISO dates, the postgres
 * interval style, shortest-exact floats and hex bytea; money is compared as numeric (its text follows lc_monetary).
 * <p>
 * A range's digest is its row count and the sum and sum of squares of the rows' 64-bit {@code hashtextextended}, summed
 * exactly as numeric. Ranges that differ are compared row by row with MD5. Keys travel as JSON arrays of the key values'
 * text, cast back to the key columns' types in predicates.
 */
final class PostgresChecksums implements RowChecksums {
    private static final int KEYS_PER_QUERY = 500;
    private static final String SETTINGS = "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; "
            + "SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'";
    private static final Set<String> INTEGERS = Set.of("smallint", "integer", "bigint");

    private final HikariDataSource pool;
    private final String side;

    PostgresChecksums(HikariDataSource pool, String side) {
        this.pool = pool;
        this.side = side;
    }

    private static String value(ColumnDef column) {
        String c = PostgresDialect.quote(column.name());
        return column.type().equals("money") ? c + "::numeric" : c;
    }

    static String rowText(TableDef table) {
        return "ROW(" + table.columns().stream().map(PostgresChecksums::value).collect(Collectors.joining(", ")) + ")::text";
    }

    private static String keyList(TableDef table) {
        return table.key().stream().map(PostgresDialect::quote).collect(Collectors.joining(", "));
    }

    private static String keyTexts(TableDef table) {
        return table.key().stream().map(k -> PostgresDialect.quote(k) + "::text").collect(Collectors.joining(", "));
    }

    private static String keyParams(TableDef table) {
        return table.key().stream().map(k -> "?::" + table.column(k).type()).collect(Collectors.joining(", "));
    }

    private static String where(TableDef table, Chunk range, List<String> params) {
        List<String> parts = new ArrayList<>();
        String row = "(" + keyList(table) + ")";
        String bound = table.key().size() == 1 ? keyParams(table) : "ROW(" + keyParams(table) + ")";
        if (range.lower() != null) {
            parts.add(row + " > " + bound);
            params.addAll(PostgresChunks.decode(range.lower()));
        }
        if (range.upper() != null) {
            parts.add(row + " <= " + bound);
            params.addAll(PostgresChunks.decode(range.upper()));
        }
        return parts.isEmpty() ? "" : " WHERE " + String.join(" AND ", parts);
    }

    private <T> T query(String doing, String sql, List<String> params, ResultReader<T> reader) {
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.execute(SETTINGS);
            }
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                for (int i = 0; i < params.size(); i++) {
                    ps.setString(i + 1, params.get(i));
                }
                try (ResultSet rs = ps.executeQuery()) {
                    return reader.read(rs);
                }
            } finally {
                c.rollback();
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate(doing + " on the " + side, e);
        }
    }

    @FunctionalInterface
    private interface ResultReader<T> {
        T read(ResultSet rs) throws SQLException;
    }

    @Override
    public RangeSum checksum(TableDef table, Chunk range) {
        List<String> params = new ArrayList<>();
        String sql = "SELECT count(*), COALESCE(sum(h), 0)::text, COALESCE(sum(h * h), 0)::text FROM (SELECT hashtextextended(" + rowText(table)
                + ", 0)::numeric AS h FROM " + PostgresDialect.quote(table.id()) + where(table, range, params) + ") r";
        return query("checksumming " + table.id(), sql, params, rs -> {
            rs.next();
            return new RangeSum(rs.getLong(1), rs.getString(2) + ":" + rs.getString(3));
        });
    }

    /** One integer key: ranges by arithmetic between min and max, sized by the row estimate; other keys: the validator walks. */
    @Override
    public List<Chunk> quickRanges(TableDef table, int rowsPerRange) {
        if (table.key().size() != 1 || !INTEGERS.contains(table.column(table.key().get(0)).type())) {
            return List.of();
        }
        String key = PostgresDialect.quote(table.key().get(0));
        String[] minMax = query("planning ranges of " + table.id(), "SELECT min(" + key + ")::text, max(" + key + ")::text FROM "
                + PostgresDialect.quote(table.id()), List.of(), rs -> {
                    rs.next();
                    return new String[] {rs.getString(1), rs.getString(2)};
                });
        if (minMax[0] == null) {
            return List.of(new Chunk(0, null, null));
        }
        BigInteger min = new BigInteger(minMax[0]);
        BigInteger max = new BigInteger(minMax[1]);
        long parts = Math.max(1, Math.min(100_000, (table.estimatedRows() + rowsPerRange - 1) / rowsPerRange));
        BigInteger step = max.subtract(min).divide(BigInteger.valueOf(parts)).max(BigInteger.ONE);
        List<Chunk> ranges = new ArrayList<>();
        String lower = null;
        for (BigInteger bound = min.add(step); bound.compareTo(max) < 0; bound = bound.add(step)) {
            String upper = PostgresChunks.encode(List.of(bound.toString()));
            ranges.add(new Chunk(ranges.size(), lower, upper));
            lower = upper;
        }
        ranges.add(new Chunk(ranges.size(), lower, null)); // open ends: rows written meanwhile below min or above max count too
        return ranges;
    }

    @Override
    public Optional<String> midKey(TableDef table, Chunk range, long rows) {
        if (rows < 2) {
            return Optional.empty();
        }
        List<String> params = new ArrayList<>();
        String sql = "SELECT " + keyTexts(table) + " FROM " + PostgresDialect.quote(table.id()) + where(table, range, params) + " ORDER BY "
                + keyList(table) + " LIMIT 1 OFFSET " + (rows / 2 - 1);
        return query("splitting a range of " + table.id(), sql, params, rs -> rs.next() ? Optional.of(key(rs, table.key().size())) : Optional.empty());
    }

    private static String key(ResultSet rs, int n) throws SQLException {
        List<String> values = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            values.add(rs.getString(i));
        }
        return PostgresChunks.encode(values);
    }

    @Override
    public Map<String, String> rowHashes(TableDef table, Chunk range) {
        List<String> params = new ArrayList<>();
        String sql = "SELECT " + keyTexts(table) + ", md5(" + rowText(table) + ") FROM " + PostgresDialect.quote(table.id()) + where(table, range, params);
        return hashes(table, sql, params);
    }

    @Override
    public Map<String, String> rowHashes(TableDef table, List<String> keys) {
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < keys.size(); i += KEYS_PER_QUERY) {
            List<String> params = new ArrayList<>();
            String sql = "SELECT " + keyTexts(table) + ", md5(" + rowText(table) + ") FROM " + PostgresDialect.quote(table.id()) + " WHERE "
                    + keysPredicate(table, keys.subList(i, Math.min(keys.size(), i + KEYS_PER_QUERY)), params);
            out.putAll(hashes(table, sql, params));
        }
        return out;
    }

    private static String keysPredicate(TableDef table, List<String> keys, List<String> params) {
        String row = table.key().size() == 1 ? keyList(table) : "(" + keyList(table) + ")";
        String one = table.key().size() == 1 ? keyParams(table) : "ROW(" + keyParams(table) + ")";
        for (String key : keys) {
            params.addAll(PostgresChunks.decode(key));
        }
        return row + " IN (" + String.join(", ", java.util.Collections.nCopies(keys.size(), one)) + ")";
    }

    private Map<String, String> hashes(TableDef table, String sql, List<String> params) {
        return query("reading row hashes of " + table.id(), sql, params, rs -> {
            Map<String, String> out = new LinkedHashMap<>();
            int n = table.key().size();
            while (rs.next()) {
                out.put(key(rs, n), rs.getString(n + 1));
            }
            return out;
        });
    }

    @Override
    public Map<String, String> columnHashes(TableDef table, String key) {
        List<String> params = new ArrayList<>();
        String columns = table.columns().stream().map(col -> "COALESCE(md5(" + value(col) + "::text), 'NULL')").collect(Collectors.joining(", "));
        String sql = "SELECT " + columns + " FROM " + PostgresDialect.quote(table.id()) + " WHERE " + keysPredicate(table, List.of(key), params);
        return query("reading column hashes of " + table.id(), sql, params, rs -> {
            Map<String, String> out = new LinkedHashMap<>();
            if (rs.next()) {
                for (int i = 0; i < table.columns().size(); i++) {
                    out.put(table.columns().get(i).name(), rs.getString(i + 1));
                }
            }
            return out;
        });
    }

    /** Types whose stream value prints exactly as {@code ::text} does on the server: the cutover can look such keys up. */
    private static final Set<String> EXACT_KEY_TYPES = Set.of("smallint", "integer", "bigint", "text", "character varying", "uuid");

    /** The changed row's key as {@link #rowHashes(TableDef, List)} takes it: the key values' text, in the table's key order. */
    @Override
    public Optional<String> keyText(TableDef table, io.migrator.core.change.RowKey key) {
        List<String> values = new ArrayList<>();
        for (String column : table.key()) {
            int at = key.columns().indexOf(column);
            String type = table.column(column).type().replaceFirst("\\(.*\\)$", "");
            if (at < 0 || !EXACT_KEY_TYPES.contains(type)) {
                return Optional.empty();
            }
            Object value = key.values().get(at);
            if (!(value instanceof String || value instanceof Long || value instanceof Integer || value instanceof Short)) {
                return Optional.empty();
            }
            values.add(value.toString());
        }
        return Optional.of(PostgresChunks.encode(values));
    }

    @Override
    public Map<String, Object> describeKey(TableDef table, String key) {
        List<String> values = PostgresChunks.decode(key);
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < table.key().size(); i++) {
            out.put(table.key().get(i), values.get(i));
        }
        return out;
    }
}
