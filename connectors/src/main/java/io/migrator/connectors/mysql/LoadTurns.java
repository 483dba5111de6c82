package io.migrator.connectors.mysql;

import io.migrator.core.schema.TableId;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Which chunks may load by LOAD DATA now. Under {@code innodb_autoinc_lock_mode} 0 or 1 (MariaDB's default) a LOAD DATA
 * into a table with an AUTO_INCREMENT column holds the table's AUTO-INC lock to its end, even when every row brings its
 * own value, so two of them on one table run one after the other. One chunk per such table gets the turn; chunks copied
 * alongside it use multi-row REPLACE, which takes that lock only for an instant. Other tables always get a turn.
 */
final class LoadTurns {
    private static final Runnable NOTHING = () -> { };

    private final Map<TableId, AtomicBoolean> busy = new ConcurrentHashMap<>();

    /**
     * @param autoIncrementLock whether {@code table} is one whose LOAD DATA statements exclude each other
     * @return the action that ends the turn (run it once the chunk's transaction has ended), or null: no turn now
     */
    Runnable take(TableId table, boolean autoIncrementLock) {
        if (!autoIncrementLock) {
            return NOTHING;
        }
        AtomicBoolean flag = busy.computeIfAbsent(table, t -> new AtomicBoolean());
        return flag.compareAndSet(false, true) ? () -> flag.set(false) : null;
    }
}
