package io.migrator.core.apply;

import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Keeps only the last change of each key in a batch, in the order of those last changes. With full
 * images the last change alone decides the row's final state, so a hot row updated 500 times in a
 * batch costs one write (rule 3: per-key order is kept; other keys' relative order is that of their
 * last changes, which is what a later unique-key conflict needs — writers replace conflicting rows).
 */
public final class Coalescer {
    private Coalescer() {
    }

    public static List<RowChange> coalesce(List<RowChange> changes) {
        if (changes.size() < 2) {
            return changes;
        }
        Map<RowKey, RowChange> last = new LinkedHashMap<>(changes.size() * 2);
        for (RowChange change : changes) {
            // remove-then-put moves the key to the end: the map's order is the order of last changes
            RowChange previous = last.remove(change.key());
            last.put(change.key(), merge(previous, change));
        }
        return new ArrayList<>(last.values());
    }

    /** A partial image (unchanged columns not sent) takes those columns from the earlier image of the same row. */
    static RowChange merge(RowChange previous, RowChange change) {
        if (previous instanceof RowChange.Upsert before && change instanceof RowChange.Upsert after && RowChange.partial(after.row())) {
            Map<String, Object> row = new LinkedHashMap<>(after.row());
            row.replaceAll((column, value) -> value == RowChange.UNCHANGED ? before.row().getOrDefault(column, RowChange.UNCHANGED) : value);
            return new RowChange.Upsert(after.key(), row);
        }
        return change;
    }
}
