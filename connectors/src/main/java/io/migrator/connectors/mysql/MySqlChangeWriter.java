package io.migrator.connectors.mysql;

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
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Writes coalesced changes inside the caller's transaction: deletes by key, then upserts of full images.
 * The keys are distinct after coalescing. Tables whose only unique key is the primary key get an
 * in-place {@code INSERT ... ON DUPLICATE KEY UPDATE}; tables with other unique keys get {@code REPLACE},
 * which removes any row that conflicts on a unique key, so the result is the source's state at the
 * batch end whatever the statement order (docs/architecture.md, rule 1).
 */
final class MySqlChangeWriter {
    /** Per target table: spatial columns (bound from WKB) and generated columns (never written). */
    /** {@code onlyPrimaryUnique}: no unique key but the primary key, so an in-place upsert cannot hit another row. */
    private record Columns(List<String> spatial, List<String> generated, List<String> floats, boolean onlyPrimaryUnique) {
    }

    private final Map<TableId, Columns> known = new ConcurrentHashMap<>();
    private final Function<TableId, TableId> onTarget;

    MySqlChangeWriter(Function<TableId, TableId> onTarget) {
        this.onTarget = onTarget;
    }

    /** DDL may have added spatial columns or tables. */
    void forgetAll() {
        known.clear();
    }

    void write(Connection c, List<RowChange> changes) throws SQLException {
        Map<TableId, List<RowChange.Delete>> deletes = new LinkedHashMap<>();
        Map<String, List<RowChange.Upsert>> upserts = new LinkedHashMap<>();
        for (RowChange change : changes) {
            if (change instanceof RowChange.Delete d) {
                deletes.computeIfAbsent(d.key().table(), t -> new ArrayList<>()).add(d);
            } else if (change instanceof RowChange.Upsert u) {
                upserts.computeIfAbsent(u.key().table() + "\u0000" + String.join("\u0000", u.row().keySet()), k -> new ArrayList<>()).add(u);
            }
        }
        for (var entry : deletes.entrySet()) {
            List<String> keyColumns = entry.getValue().get(0).key().columns();
            String table = MySqlDialect.quote(onTarget.apply(entry.getKey()));
            List<List<Object>> keys = entry.getValue().stream().map(d -> d.key().values()).toList();
            if (keyColumns.size() == 1) {
                MySqlValues.executeMultiRow(c, "DELETE FROM " + table + " WHERE " + MySqlDialect.quote(keyColumns.get(0)) + " IN (", "?", ")", keys);
            } else {
                // Composite keys: one statement per key (a row-constructor IN list may not use the index on every server).
                String sql = "DELETE FROM " + table + " WHERE "
                        + keyColumns.stream().map(k -> MySqlDialect.quote(k) + " = ?").collect(Collectors.joining(" AND "));
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    MySqlValues.executeRows(ps, keys);
                }
            }
        }
        for (List<RowChange.Upsert> group : upserts.values()) {
            TableId target = onTarget.apply(group.get(0).key().table());
            Columns special = columns(c, target);
            List<String> columns = new ArrayList<>(group.get(0).row().keySet());
            columns.removeAll(special.generated());
            List<String> spatialColumns = special.spatial();
            String head = (special.onlyPrimaryUnique() ? "INSERT INTO " : "REPLACE INTO ") + MySqlDialect.quote(target) + " ("
                    + columns.stream().map(MySqlDialect::quote).collect(Collectors.joining(", ")) + ") VALUES ";
            String row = "(" + columns.stream().map(col -> spatialColumns.contains(col) ? "ST_GeomFromWKB(?)" : "?")
                    .collect(Collectors.joining(", ")) + ")";
            // With the primary key as the only unique key, an in-place upsert touches exactly the row of the key and only the
            // columns that changed; with other unique keys, REPLACE also clears rows those keys collide with (see class doc).
            String tail = special.onlyPrimaryUnique() ? " ON DUPLICATE KEY UPDATE "
                    + columns.stream().map(col -> MySqlDialect.quote(col) + " = VALUES(" + MySqlDialect.quote(col) + ")")
                    .collect(Collectors.joining(", ")) : "";
            List<List<Object>> rows = new ArrayList<>(group.size());
            for (RowChange.Upsert u : group) {
                List<Object> values = new ArrayList<>(columns.size());
                for (String column : columns) {
                    Object value = u.row().get(column);
                    // Debezium widens FLOAT to double; narrowing back is exact and keeps FLT_MAX in range.
                    values.add(value instanceof Double d && special.floats().contains(column) ? (Object) d.floatValue() : value);
                }
                rows.add(values);
            }
            MySqlValues.executeMultiRow(c, head, row, tail, rows);
        }
    }

    private Columns columns(Connection c, TableId table) throws SQLException {
        Columns cached = known.get(table);
        if (cached != null) {
            return cached;
        }
        List<String> spatial = new ArrayList<>();
        List<String> generated = new ArrayList<>();
        List<String> floats = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT COLUMN_NAME, DATA_TYPE, EXTRA FROM information_schema.COLUMNS "
                + "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?")) {
            ps.setString(1, table.schema());
            ps.setString(2, table.name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String type = rs.getString(2).toLowerCase(java.util.Locale.ROOT);
                    String extra = rs.getString(3) == null ? "" : rs.getString(3).toUpperCase(java.util.Locale.ROOT);
                    if (List.of("geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
                            "geometrycollection").contains(type)) {
                        spatial.add(rs.getString(1));
                    }
                    if (type.equals("float")) {
                        floats.add(rs.getString(1));
                    }
                    if (extra.contains("GENERATED") || extra.contains("VIRTUAL") || extra.contains("PERSISTENT")) {
                        generated.add(rs.getString(1));
                    }
                }
            }
        }
        boolean onlyPrimary;
        try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS "
                + "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY'")) {
            ps.setString(1, table.schema());
            ps.setString(2, table.name());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                onlyPrimary = rs.getInt(1) == 0;
            }
        }
        Columns found = new Columns(spatial, generated, floats, onlyPrimary);
        known.put(table, found);
        return found;
    }
}
