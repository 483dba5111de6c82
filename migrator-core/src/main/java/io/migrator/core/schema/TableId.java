package io.migrator.core.schema;

import java.util.Objects;

/** A table's schema (MySQL database, PostgreSQL schema) and name, exactly as the server spells them. */
public record TableId(String schema, String name) implements Comparable<TableId> {
    public TableId {
        Objects.requireNonNull(schema, "schema");
        Objects.requireNonNull(name, "name");
    }

    @Override
    public int compareTo(TableId other) {
        int c = schema.compareTo(other.schema);
        return c != 0 ? c : name.compareTo(other.name);
    }

    @Override
    public String toString() {
        return schema + "." + name;
    }
}
