package io.migrator.core.change;

import java.util.Map;

/**
 * One row event in source order, with full images: "set the row with this key to this image" or
 * "delete the row with this key". Replayed after the copy, these converge to the source whenever
 * each chunk was read (docs/architecture.md, rule 1).
 */
public sealed interface RowChange {
    RowKey key();

    /** Insert or update: the complete after-image (generated columns left out). */
    record Upsert(RowKey key, Map<String, Object> row) implements RowChange {
    }

    record Delete(RowKey key) implements RowChange {
    }
}
