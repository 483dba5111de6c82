package io.migrator.core.schema;

import java.util.List;

/**
 * A table to migrate: its columns, the key its rows are identified by, and the statement that creates it on a target of
 * the same family. The key is the primary key ({@code keyIndex} null) or, for a table without one, a unique index over
 * NOT NULL columns named by {@code keyIndex}: PostgreSQL's REPLICA IDENTITY index, MySQL/MariaDB's first such index or
 * the one the plan's {@code tables.keys} names. Copy, apply, validation and repair all go by it.
 */
public record TableDef(TableId id, List<ColumnDef> columns, List<String> key, String createStatement, long estimatedRows, String keyIndex) {
    public TableDef {
        columns = List.copyOf(columns);
        key = List.copyOf(key);
    }

    /** A table keyed by its primary key. */
    public TableDef(TableId id, List<ColumnDef> columns, List<String> key, String createStatement, long estimatedRows) {
        this(id, columns, key, createStatement, estimatedRows, null);
    }

    /** Keyed by a unique index rather than a primary key. */
    public boolean keyedByUniqueIndex() {
        return keyIndex != null;
    }

    /** How preflight and status name the key: {@code primary key (id)} or {@code unique index by_code (region, code)}. */
    public String keyDescription() {
        return (keyIndex == null ? "primary key" : "unique index " + keyIndex) + " (" + String.join(", ", key) + ")";
    }

    /** The columns a writer sets: all but generated ones. */
    public List<ColumnDef> writableColumns() {
        return columns.stream().filter(c -> !c.generated()).toList();
    }

    public ColumnDef column(String name) {
        return columns.stream().filter(c -> c.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no column " + name + " in " + id));
    }
}
