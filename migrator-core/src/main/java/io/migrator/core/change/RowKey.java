package io.migrator.core.change;

import io.migrator.core.schema.TableId;
import java.util.Arrays;
import java.util.List;

/** A row's identity: its table, key column names and key values. byte[] key parts compare by content. */
public record RowKey(TableId table, List<String> columns, List<Object> values) {
    public RowKey {
        columns = List.copyOf(columns);
        values = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(values));
        if (columns.size() != values.size()) {
            throw new IllegalArgumentException("key columns " + columns + " and values differ in number");
        }
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof RowKey k && k.table.equals(table) && Arrays.deepEquals(values.toArray(), k.values.toArray());
    }

    @Override
    public int hashCode() {
        return 31 * table.hashCode() + Arrays.deepHashCode(values.toArray());
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(table.toString()).append('[');
        for (int i = 0; i < values.size(); i++) {
            Object v = values.get(i);
            s.append(i == 0 ? "" : ", ").append(v instanceof byte[] b ? "0x" + java.util.HexFormat.of().formatHex(b) : v);
        }
        return s.append(']').toString();
    }
}
