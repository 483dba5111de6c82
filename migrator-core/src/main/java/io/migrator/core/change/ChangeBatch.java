package io.migrator.core.change;

import java.util.List;

/**
 * Changes in source order and the position after the last of them. {@code sourceMillis} is the source
 * commit time of the last event (for lag); a batch may hold no row changes (heartbeats, filtered events)
 * and still move the position.
 *
 * <p>{@code open}: the source transaction these changes belong to goes on in the next batch. A target that
 * {@linkplain io.migrator.core.spi.TargetSession#holdsTransactions holds transactions} writes them in a target
 * transaction it leaves open, and commits it with the first batch that is not open, with that batch's checkpoint: a
 * source transaction of any size commits on the target as one transaction while only one batch is in memory. Another
 * target applies an open batch like any other, with its position inside the transaction. An open batch carries no DDL.
 */
public record ChangeBatch(List<RowChange> changes, SourcePosition position, long sourceMillis, List<String> ddl, boolean open) {
    public ChangeBatch {
        changes = List.copyOf(changes);
        ddl = List.copyOf(ddl);
        if (open && !ddl.isEmpty()) {
            throw new IllegalArgumentException("an open batch carries no DDL");
        }
    }

    public ChangeBatch(List<RowChange> changes, SourcePosition position, long sourceMillis, List<String> ddl) {
        this(changes, position, sourceMillis, ddl, false);
    }
}
