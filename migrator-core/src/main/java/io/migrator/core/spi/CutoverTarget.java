package io.migrator.core.spi;

import java.util.List;
import java.util.Optional;

/**
 * What a cutover needs of the server it moves to: its preconditions, sequences raised, the opening (and its undoing),
 * the reverse position. A SQL engine's {@link TargetSession} is one; an engine with its own worker (Redis) brings its own.
 */
public interface CutoverTarget {
    /**
     * Brings every target sequence of the plan's tables to at least the source's value now (never lowers one), for a DBA
     * about to send traffic to the target; returns those moved as "sequence -> value". Engines without sequences: empty.
     */
    default List<String> syncSequences() {
        return List.of();
    }

    /**
     * Makes the target take the application's writes (after the switch): the objects that must not exist while changes
     * are replayed (triggers) created, read-only lifted. Returns what was done, for the report. Idempotent.
     */
    default String openForWrites() {
        throw CutoverSeams.notYet("opening the target for writes on a " + getClass().getSimpleName());
    }

    /** The target's preconditions for a cutover: the application's logins exist there, its log can feed a reverse stream. */
    default List<CutoverCheck> cutoverChecks(CutoverCheck.Context context) {
        return List.of();
    }

    /**
     * Redoes on the target what the source's foreign keys did by cascade to the rows of deleted parents (the server writes
     * no log event for those child changes): {@code deletedOrChanged} are the keys the stream changed since the last clean
     * validation, by table; a parent key among them that no longer exists has its children deleted (CASCADE) or their
     * reference set to NULL (SET NULL), level by level. Returns what it did. Engines whose log carries cascades: nothing.
     */
    default String redoCascades(java.util.Map<io.migrator.core.schema.TableId, List<io.migrator.core.change.RowKey>> deletedOrChanged) {
        return "no cascade to redo";
    }

    /**
     * The target's own log position now, where reverse replication will start (read inside the freeze, after the fence);
     * empty when the target keeps no log a reverse stream could read.
     */
    default Optional<String> reversePosition() {
        return Optional.empty();
    }

    /**
     * Before the freeze: what the direction that will stream out of this server after the switch (named {@code direction}:
     * the reverse direction of a cutover, the forward direction again after a rollback) needs here to start at the fence.
     * PostgreSQL: its publication and logical slot, made now because creating a slot waits for every running transaction,
     * which a freeze must not; any left by an earlier attempt are made afresh. Returns what was done, "" for nothing.
     */
    default String prepareReverse(String direction) {
        return "";
    }

    /**
     * An abort: what {@link #prepareReverse} made is dropped again (a slot nothing reads would hold this server's WAL for
     * good). Returns what was done, "" for nothing. Idempotent.
     */
    default String dropReverse(String direction) {
        return "";
    }

    /**
     * Undoes {@link #openForWrites} (an abort before the switch, a rollback's freeze of the new server): the objects it
     * created dropped again so replayed rows do not fire them. Returns what was done. Idempotent.
     */
    default String closeForWrites() {
        throw CutoverSeams.notYet("closing the target for writes on a " + getClass().getSimpleName());
    }


    /** Checksums of the rows the cutover verifies; none by default. */
    default RowChecksums checksums() {
        throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.NOT_AVAILABLE,
                "validation is not available for this target engine yet", "validate with the engine's own tools meanwhile");
    }

    /**
     * After the switch: what a lasting freeze left on this server that would keep the application out (a rollback's
     * target is the old source, the next cutover's the server a rollback froze) is lifted; what was done, "" for nothing.
     * Never before the point of no return: an abort must leave this server closed to the application.
     */
    default String admitApplication() {
        return "";
    }
}
