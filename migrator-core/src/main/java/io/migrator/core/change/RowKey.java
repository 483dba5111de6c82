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

    // equals and hashCode run for every change (coalescing, the changed keys): element by element, without copying the
    // values into an array each time; array parts (bytea, binary) compare by content

    @Override
    public boolean equals(Object other) {
        if (this == other) {
            return true;
        }
        if (!(other instanceof RowKey k) || !k.table.equals(table) || k.values.size() != values.size()) {
            return false;
        }
        for (int i = 0; i < values.size(); i++) {
            Object a = values.get(i);
            Object b = k.values.get(i);
            if (a != b && (a == null || b == null || (a.getClass().isArray() || b.getClass().isArray()
                    ? !Arrays.deepEquals(new Object[] {a}, new Object[] {b}) : !a.equals(b)))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        int h = table.hashCode();
        for (int i = 0; i < values.size(); i++) {
            Object v = values.get(i);
            h = 31 * h + (v == null ? 0 : v instanceof byte[] b ? Arrays.hashCode(b)
                    : v.getClass().isArray() ? Arrays.deepHashCode(new Object[] {v}) : v.hashCode());
        }
        return h;
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
