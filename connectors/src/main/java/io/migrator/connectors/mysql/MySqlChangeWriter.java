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

    /** Rows per step: one multi-row statement's worth, which is also what the look-ahead reads before the step runs. */
    static final int STEP_ROWS = 1_000;

    /**
     * The order {@link #write} applies {@code changes} in, as steps of at most {@link #STEP_ROWS} changes: deletes by
     * table, then upserts by table and column set. Each step is one or a few statements.
     */
    static List<List<RowChange>> steps(List<RowChange> changes) {
        Map<TableId, List<RowChange>> deletes = new LinkedHashMap<>();
        Map<String, List<RowChange>> upserts = new LinkedHashMap<>();
        for (RowChange change : changes) {
            if (change instanceof RowChange.Delete d) {
                deletes.computeIfAbsent(d.key().table(), t -> new ArrayList<>()).add(d);
            } else if (change instanceof RowChange.Upsert u) {
                upserts.computeIfAbsent(u.key().table() + "\u0000" + String.join("\u0000", u.row().keySet()), k -> new ArrayList<>()).add(u);
            }
        }
        List<List<RowChange>> steps = new ArrayList<>();
        for (List<RowChange> group : deletes.values()) {
            for (int from = 0; from < group.size(); from += STEP_ROWS) {
                steps.add(group.subList(from, Math.min(group.size(), from + STEP_ROWS)));
            }
        }
        for (List<RowChange> group : upserts.values()) {
            for (int from = 0; from < group.size(); from += STEP_ROWS) {
                steps.add(group.subList(from, Math.min(group.size(), from + STEP_ROWS)));
            }
        }
        return steps;
    }

    /**
     * Applies {@code changes} step by step (see {@link #steps}); before each step runs, {@code ahead} is handed the
     * next step's changes so their rows can be read into the target's cache while this one executes.
     */
    void write(Connection c, List<RowChange> changes, java.util.function.Consumer<List<RowChange>> ahead) throws SQLException {
        List<List<RowChange>> steps = steps(changes);
        for (int i = 0; i < steps.size(); i++) {
            if (i + 1 < steps.size()) {
                ahead.accept(steps.get(i + 1));
            }
            List<RowChange> step = steps.get(i);
            if (step.get(0) instanceof RowChange.Delete) {
                delete(c, step);
            } else {
                upsert(c, step);
            }
        }
    }

    void write(Connection c, List<RowChange> changes) throws SQLException {
        write(c, changes, next -> { });
    }

    private void delete(Connection c, List<RowChange> step) throws SQLException {
        List<String> keyColumns = step.get(0).key().columns();
        String table = MySqlDialect.quote(onTarget.apply(step.get(0).key().table()));
        List<List<Object>> keys = step.stream().map(d -> d.key().values()).toList();
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

    private void upsert(Connection c, List<RowChange> step) throws SQLException {
        RowChange.Upsert first = (RowChange.Upsert) step.get(0);
        TableId target = onTarget.apply(first.key().table());
        Columns special = columns(c, target);
        List<String> columns = new ArrayList<>(first.row().keySet());
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
        List<List<Object>> rows = new ArrayList<>(step.size());
        for (RowChange change : step) {
            RowChange.Upsert u = (RowChange.Upsert) change;
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
