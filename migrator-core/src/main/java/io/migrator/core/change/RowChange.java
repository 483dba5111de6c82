package io.migrator.core.change;

import java.util.Map;

/**
 * One row event in source order, with full images: "set the row with this key to this image" or
 * "delete the row with this key". Replayed after the copy, these converge to the source whenever
 * each chunk was read (docs/architecture.md, rule 1).
 */
public sealed interface RowChange {
    RowKey key();

    /**
     * In an {@link Upsert}'s image: the column kept its value and the source did not send it (PostgreSQL sends no
     * unchanged TOAST value). Writers leave such a column as the target has it; they never write this marker.
     */
    Object UNCHANGED = Unchanged.VALUE;

    /** The marker's type. */
    enum Unchanged {
        VALUE;

        @Override
        public String toString() {
            return "(unchanged)";
        }
    }

    /** Whether an image leaves some column as it is ({@link #UNCHANGED}). */
    static boolean partial(java.util.Map<String, Object> row) {
        if (row instanceof RowImage image) {
            return image.partial(); // known since it was made
        }
        for (Object v : row.values()) { // by identity: runs for every change the coalescer meets twice
            if (v == UNCHANGED) {
                return true;
            }
        }
        return false;
    }

    /** Insert or update: the after-image (generated columns left out); complete unless it holds {@link #UNCHANGED}. */
    record Upsert(RowKey key, Map<String, Object> row) implements RowChange {
    }

    record Delete(RowKey key) implements RowChange {
    }
}
