package io.migrator.core.apply;

import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import io.migrator.core.schema.TableId;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The keys of the rows the stream changed since the last clean validation, which the cutover verifies inside its freeze
 * (what a validation has not seen yet). Bounded: past {@code limit} keys it stops adding and says so, and the cutover
 * reports that it verified a part. A validation takes a {@link #mark()} when it starts and, when it ends clean,
 * {@link #forgetBefore forgets} what changed before it.
 */
public final class ChangedKeys {
    private final int limit;
    /** Each key with the number of its latest change (a plain hash map: one put per change; ordered only for a snapshot). */
    private final java.util.HashMap<RowKey, Long> keys = new java.util.HashMap<>();
    private long sequence;
    /** Where keys went untracked: from the start (what changed before this worker ran is unknown), or past the limit. */
    private long overflowedAt;

    public ChangedKeys(int limit) {
        this.limit = limit;
        this.overflowedAt = sequence++; // partial until a clean validation that starts after it
    }

    /**
     * Every change from now on is the whole story (a reverse direction starting at the cutover's fence, where parity held):
     * nothing before it needs verifying, so the keys are complete until the limit overflows.
     */
    public synchronized void trackAll() {
        if (keys.isEmpty()) {
            overflowedAt = -1;
        }
    }

    synchronized void record(List<RowChange> changes) {
        for (RowChange change : changes) {
            RowKey key = change.key();
            if (keys.size() >= limit && !keys.containsKey(key)) {
                overflowedAt = sequence++; // its own number: before or after a mark, never both
                continue;
            }
            keys.put(key, sequence++);
        }
    }

    /** Where a validation starts: what changed before it is covered once that validation ends clean. */
    public synchronized long mark() {
        return sequence;
    }

    public synchronized void forgetBefore(long mark) {
        for (Iterator<Long> it = keys.values().iterator(); it.hasNext(); ) {
            if (it.next() < mark) {
                it.remove();
            }
        }
        if (overflowedAt >= 0 && overflowedAt < mark) {
            overflowedAt = -1;
        }
    }

    /** The keys by table, oldest change first, and whether some were not kept. */
    public synchronized Snapshot snapshot() {
        List<Map.Entry<RowKey, Long>> inOrder = new ArrayList<>(keys.entrySet());
        inOrder.sort(Map.Entry.comparingByValue());
        Map<TableId, List<RowKey>> byTable = new LinkedHashMap<>();
        for (Map.Entry<RowKey, Long> e : inOrder) {
            byTable.computeIfAbsent(e.getKey().table(), t -> new ArrayList<>()).add(e.getKey());
        }
        return new Snapshot(byTable, overflowedAt >= 0);
    }

    public record Snapshot(Map<TableId, List<RowKey>> byTable, boolean partial) {
        public int size() {
            return byTable.values().stream().mapToInt(List::size).sum();
        }
    }
}
