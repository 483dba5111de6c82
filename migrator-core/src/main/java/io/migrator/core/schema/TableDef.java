package io.migrator.core.schema;

import java.util.List;

/**
 * A table to migrate: its columns, the key rows are identified by (primary key, or a unique NOT NULL
 * key), and the statement that creates it on a target of the same family.
 */
public record TableDef(TableId id, List<ColumnDef> columns, List<String> key, String createStatement, long estimatedRows) {
    public TableDef {
        columns = List.copyOf(columns);
        key = List.copyOf(key);
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
