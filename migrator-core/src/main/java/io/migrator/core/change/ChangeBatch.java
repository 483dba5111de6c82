package io.migrator.core.change;

import java.util.List;

/**
 * Changes in source order and the position after the last of them. {@code sourceMillis} is the source
 * commit time of the last event (for lag); a batch may hold no row changes (heartbeats, filtered events)
 * and still move the position.
 */
public record ChangeBatch(List<RowChange> changes, SourcePosition position, long sourceMillis, List<String> ddl) {
    public ChangeBatch {
        changes = List.copyOf(changes);
        ddl = List.copyOf(ddl);
    }
}
