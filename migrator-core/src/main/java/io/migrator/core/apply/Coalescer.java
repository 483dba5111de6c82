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
        // one hash lookup per change (it runs for every change the stream reads), in an open-addressed table of where each
        // key was last seen (no node or boxed index per change); a change seen again later is superseded, and what stays,
        // in the order of the batch, is the order of last changes
        int n = changes.size();
        int capacity = Integer.highestOneBit(Math.max(4, n) * 2 - 1) << 1; // a power of two, at most half full
        RowKey[] keys = new RowKey[capacity];
        int[] lastAt = new int[capacity];
        RowChange[] merged = new RowChange[n];
        boolean[] superseded = new boolean[n];
        int kept = 0;
        for (int i = 0; i < n; i++) {
            RowChange change = changes.get(i);
            RowKey key = change.key();
            int h = key.hashCode();
            int slot = (h ^ (h >>> 16)) & (capacity - 1);
            while (keys[slot] != null && !keys[slot].equals(key)) {
                slot = (slot + 1) & (capacity - 1);
            }
            if (keys[slot] == null) {
                keys[slot] = key;
                merged[i] = change;
                kept++;
            } else {
                int previous = lastAt[slot];
                merged[i] = merge(merged[previous], change);
                superseded[previous] = true;
            }
            lastAt[slot] = i;
        }
        List<RowChange> out = new ArrayList<>(kept);
        for (int i = 0; i < n; i++) {
            if (!superseded[i]) {
                out.add(merged[i]);
            }
        }
        return out;
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
