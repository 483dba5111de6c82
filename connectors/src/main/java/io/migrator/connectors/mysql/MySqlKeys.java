package io.migrator.connectors.mysql;

import io.migrator.core.plan.TableFilter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which key carries a MySQL/MariaDB table's rows: its primary key; without one, the unique index over NOT NULL columns the
 * plan names in {@code tables.keys}, else the first such index by name. A unique index over a nullable column is no key
 * (several rows may hold NULL there). Full-row matching is never offered: after a restart it can duplicate or lose rows
 * that are identical.
 */
final class MySqlKeys {
    private MySqlKeys() {
    }

    /** A unique index of a table: its name, its columns in index order, whether every column is NOT NULL. */
    record Index(String name, List<String> columns, boolean notNull) {
    }

    /** The key chosen for a table: {@code index} PRIMARY or a unique index's name; or {@code problem} with no key. */
    record Choice(String index, List<String> columns, String problem) {
        boolean primary() {
            return "PRIMARY".equals(index);
        }

        /** The TableDef's keyIndex: null for the primary key. */
        String keyIndex() {
            return primary() ? null : index;
        }

        String describe() {
            return (primary() ? "primary key" : "unique index " + index) + " (" + String.join(", ", columns) + ")";
        }
    }

    /** Every unique index of every base table of the schema, by table name. */
    static Map<String, List<Index>> uniqueIndexes(Connection c, String database) throws SQLException {
        Map<String, Map<String, List<String>>> columns = new LinkedHashMap<>();
        Map<String, Map<String, Boolean>> notNull = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT s.TABLE_NAME, s.INDEX_NAME, s.COLUMN_NAME, col.IS_NULLABLE "
                + "FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS col ON col.TABLE_SCHEMA = s.TABLE_SCHEMA "
                + "AND col.TABLE_NAME = s.TABLE_NAME AND col.COLUMN_NAME = s.COLUMN_NAME WHERE s.TABLE_SCHEMA = ? AND s.NON_UNIQUE = 0 "
                + "ORDER BY s.TABLE_NAME, s.INDEX_NAME = 'PRIMARY' DESC, s.INDEX_NAME, s.SEQ_IN_INDEX")) {
            ps.setString(1, database);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    columns.computeIfAbsent(rs.getString(1), t -> new LinkedHashMap<>()).computeIfAbsent(rs.getString(2), i -> new ArrayList<>())
                            .add(rs.getString(3));
                    notNull.computeIfAbsent(rs.getString(1), t -> new LinkedHashMap<>()).merge(rs.getString(2), "NO".equals(rs.getString(4)),
                            Boolean::logicalAnd);
                }
            }
        }
        Map<String, List<Index>> out = new LinkedHashMap<>();
        columns.forEach((table, indexes) -> indexes.forEach((name, cols) -> out.computeIfAbsent(table, t -> new ArrayList<>())
                .add(new Index(name, cols, notNull.get(table).get(name)))));
        return out;
    }

    /** The key of {@code table} among its unique indexes, as the plan's {@code tables.keys} and the rules above decide. */
    static Choice choose(String database, String table, List<Index> indexes, TableFilter filter) {
        List<Index> unique = indexes == null ? List.of() : indexes;
        Index primary = unique.stream().filter(i -> i.name().equals("PRIMARY")).findFirst().orElse(null);
        var named = filter.keyFor(database, table);
        if (primary != null) {
            return named.isPresent() && !new HashSet<>(named.get()).equals(new HashSet<>(primary.columns()))
                    ? new Choice(null, List.of(), "tables.keys names (" + String.join(", ", named.get()) + ") for " + table
                            + ", but its primary key (" + String.join(", ", primary.columns()) + ") carries its rows")
                    : new Choice(primary.name(), primary.columns(), null);
        }
        List<Index> usable = unique.stream().filter(Index::notNull).toList();
        if (named.isPresent()) {
            return usable.stream().filter(i -> new HashSet<>(i.columns()).equals(new HashSet<>(named.get())) && i.columns().size() == named.get().size())
                    .findFirst().map(i -> new Choice(i.name(), i.columns(), null))
                    .orElse(new Choice(null, List.of(), "tables.keys names (" + String.join(", ", named.get()) + ") for " + table
                            + ", but no unique index over NOT NULL columns has exactly these columns" + (usable.isEmpty() ? ""
                            : " (usable: " + String.join("; ", usable.stream().map(i -> i.name() + " (" + String.join(", ", i.columns()) + ")").toList())
                            + ")")));
        }
        if (usable.isEmpty()) {
            return new Choice(null, List.of(), table + " has no primary key and no unique index over NOT NULL columns"
                    + (unique.isEmpty() ? "" : " (" + String.join(", ", unique.stream().map(Index::name).toList()) + " allow NULL)"));
        }
        Index first = usable.get(0);
        return new Choice(first.name(), first.columns(), null);
    }
}
