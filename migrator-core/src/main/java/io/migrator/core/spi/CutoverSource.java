package io.migrator.core.spi;

import io.migrator.core.change.SourcePosition;

/**
 * What a cutover needs of the server it moves away from (ARCHITECTURE.md, rule 6): freeze its writes, read the fence
 * position inside the freeze, check the preconditions, freeze it for good after the switch. A SQL engine's
 * {@link SourceSession} is one; an engine with its own worker (Redis) brings its own.
 */
public interface CutoverSource {
    /**
     * Stops the application's writes on the source by the plan's freeze method, waiting at most {@code lockWait} for
     * running writers (a lock the application would queue behind must stay short); returns once no write can commit.
     * Idempotent.
     *
     * @throws io.migrator.core.error.MigratorException {@code PRECONDITION}-class errors name what blocked the freeze
     */
    default void freezeWrites(java.time.Duration lockWait) {
        throw CutoverSeams.notYet("freezing writes on a " + getClass().getSimpleName());
    }

    /** Lets the application write again (an abort, or a rollback's end). Idempotent; safe when nothing is frozen. */
    default void unfreezeWrites() {
        throw CutoverSeams.notYet("unfreezing writes on a " + getClass().getSimpleName());
    }

    /**
     * The source's log position read inside a freeze: every write acknowledged before the freeze is at or before it, so a
     * target that applied up to it holds them all (the fence the drain waits for).
     */
    default SourcePosition positionInFreeze() {
        throw CutoverSeams.notYet("reading the fence position on a " + getClass().getSimpleName());
    }

    /**
     * The cutover's preconditions this source can check before anything is frozen: freeze privileges, transactions that
     * would hold the freeze up, sessions that write around the proxy. An engine without a cutover answers one failed check,
     * so the cutover is refused before anything is frozen.
     */
    default java.util.List<CutoverCheck> cutoverChecks(CutoverCheck.Context context) {
        return java.util.List.of(CutoverCheck.fail("engine", "the cutover of a " + getClass().getSimpleName() + " source is not in this build",
                "cut over with the engine's own tools meanwhile: freeze writes, wait until `migrator status` shows lag 0, switch the "
                        + "application, then `migrator complete`"));
    }

    /**
     * The lasting freeze after the switch (stage 2): the application can no longer write to the old source, migrator
     * still can (reverse replication); it outlives this session. Returns what was done, for the report. Idempotent.
     */
    default String freezeLasting(java.util.List<String> applicationUsers) {
        throw CutoverSeams.notYet("the lasting freeze on a " + getClass().getSimpleName());
    }

    /**
     * Cut over: what the forward stream holds on the old source is let go (PostgreSQL: its slot and publication; kept,
     * they would hold the old source's WAL for good, and a rollback makes its own before its freeze). Returns what was
     * dropped. Idempotent.
     */
    default java.util.List<String> releaseStream() {
        return java.util.List.of();
    }

    /** Undoes {@link #freezeLasting} (rollback, complete); returns what was done. Idempotent. */
    default String unfreezeLasting(java.util.List<String> applicationUsers) {
        return "nothing to undo";
    }


    /**
     * The freeze with the time it must hold at least: an engine whose freeze lapses on its own (a Redis CLIENT PAUSE)
     * sets it to outlast the cutover; the others freeze until unfrozen.
     */
    default void freezeWrites(java.time.Duration lockWait, java.time.Duration hold) {
        freezeWrites(lockWait);
    }

    /**
     * Past the point of no return the stage-1 freeze must hold until the lasting freeze, however long the switch takes: a
     * freeze that lapses on its own (a Redis CLIENT PAUSE) is renewed here. Nothing for freezes that hold until undone.
     */
    default void keepFrozen() {
    }

    /** Checksums of the rows the cutover verifies (the changed rows of {@link io.migrator.core.schema.TableDef}s); none by default. */
    default RowChecksums checksums() {
        throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.NOT_AVAILABLE,
                "validation is not available for this source engine yet", "validate with the engine's own tools meanwhile");
    }
}
