package io.migrator.core.spi;

import io.migrator.core.change.RowChange;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.state.Chunk;
import io.migrator.core.state.ChunkProgress;
import io.migrator.core.state.MigrationState;
import java.util.List;
import java.util.Optional;

/**
 * What the core needs from a target server, including the bookkeeping that makes restarts exact:
 * state, chunk progress and the stream checkpoint all live on the target, each written in the same
 * transaction as the data it describes.
 */
public interface TargetSession extends CutoverTarget, AutoCloseable {
    /** Creates the bookkeeping objects when missing (idempotent). */
    void prepare();

    Optional<MigrationState> loadState();

    /**
     * Claims the migration for this worker and registers where it serves its API, before it changes anything. The
     * claim is held until the lease closes; {@code lost} is called (from another thread) if the target takes it away and
     * another worker holds it by the time it could be claimed again.
     *
     * @throws io.migrator.core.error.MigratorException {@code WORKER_RUNNING} naming the worker that holds the claim
     */
    default WorkerLease claim(io.migrator.core.state.WorkerRecord self, java.util.function.Consumer<io.migrator.core.error.MigratorException> lost) {
        return WorkerLease.NONE;
    }

    /** The worker that holds the migration's claim now, as it registered itself; empty when none runs. */
    default Optional<io.migrator.core.state.WorkerRecord> registeredWorker() {
        return Optional.empty();
    }

    void saveState(MigrationState state);

    /** The tables of the list that do not exist on the target yet. */
    List<TableId> missingTables(List<TableDef> tables);

    /** Creates a table; a writer may leave secondary indexes for {@link #buildDeferredIndexes} (faster bulk copy). */
    void createTable(TableDef table);

    /**
     * Builds the secondary indexes {@link #createTable} left out, after the copy. Idempotent: indexes that exist
     * are skipped, so a restart in the middle simply finishes the rest.
     */
    default void buildDeferredIndexes(TableDef table) {
    }

    /** Whether the target's copy of the table holds at least one row (one indexed read, not a count). */
    boolean hasRows(TableDef table);

    /** Differences between an existing target table and the source definition (empty when they match). */
    List<String> differences(TableDef source);

    /** The chunk plan of a table, with done marks; empty before it is planned. */
    List<ChunkProgress> chunks(TableId table);

    void saveChunkPlan(TableId table, List<Chunk> chunks);

    /** Opens one transaction that receives the chunk's rows and, on commit, its done mark. */
    ChunkWriter beginChunk(TableDef table, Chunk chunk);

    /** The position of the last applied change, committed with it. */
    Optional<SourcePosition> checkpoint();

    /**
     * Applies changes and stores the checkpoint in one transaction. Changes may be coalesced (last image
     * per key); the writer resolves unique-key conflicts by replacing the conflicting row.
     */
    void apply(List<RowChange> changes, SourcePosition position, long eventCount);

    /**
     * The newest position applied so far whose commit is on the target's disk, if it moved since the last call: the stream
     * confirms to the source only that far (what it confirms, the source may discard). A target whose commits wait for
     * the disk returns the position apply just committed (the default). One whose commits do not wait (PostgreSQL's
     * applier, as a native subscription's apply worker) returns the newest one its log flush has passed, or nothing.
     */
    default java.util.Optional<SourcePosition> durable(SourcePosition applied) {
        return java.util.Optional.of(applied);
    }

    /**
     * Everything applied so far reaches the target's disk before this returns: the cutover's fence and validation's take
     * nothing the target could still lose in a crash. Nothing to do for a target whose commits wait for the disk.
     */
    default void makeDurable() {
    }

    /**
     * Whether this target can hold a source transaction open across batches ({@link #applyOpen}): then {@link #apply}
     * commits what the open batches wrote with its own changes and checkpoint, in the same target transaction.
     */
    default boolean holdsTransactions() {
        return false;
    }

    /**
     * Writes changes of a source transaction that goes on in later batches, in a target transaction left open (begun by
     * the first such call); the next {@link #apply} commits it. Not retried: a failure rolls back everything written
     * since the transaction began ({@link #abandonOpen}), and the stream starts again from the last checkpoint.
     */
    default void applyOpen(List<RowChange> changes, long eventCount) {
        throw new UnsupportedOperationException("this target does not hold transactions open");
    }

    /** Whether a target transaction begun by {@link #applyOpen} is open. */
    default boolean inOpenTransaction() {
        return false;
    }

    /**
     * The stream's applier ended (stopped, failed, or done with): the open target transaction, if any, is rolled back, and
     * what the target kept for the applier between batches (a connection) goes.
     */
    default void endApply() {
        abandonOpen();
    }

    /** Rolls back the open target transaction, if any (the worker stops, or a write in it failed). */
    default void abandonOpen() {
    }

    /**
     * Reads, without changing anything, the rows {@link #apply} is about to change, so their pages are in memory
     * when the transaction runs. Called for batch N+1 while batch N is being applied. Best effort.
     */
    default void prefetch(List<RowChange> changes) {
    }

    /** Every phase change of this migration, oldest first (the journal). */
    default List<MigrationState> journal() {
        return List.of();
    }

    /** The chunk plans of every table of this migration, with done marks. */
    default List<ChunkProgress> allChunks() {
        return List.of();
    }

    /** Change events applied so far, as committed with the checkpoint. */
    default long appliedEvents() {
        return 0;
    }

    /** Checksums over the target's rows (validation). */
    default RowChecksums checksums() {
        throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.NOT_AVAILABLE,
                "validation is not available for this target engine yet", "validate with the engine's own tools meanwhile");
    }

    /** The id of the migration of this name that writes this target, with its source; empty before its first run. */
    default Optional<io.migrator.core.state.MigrationId> migrationId() {
        return Optional.empty();
    }

    /** Records the migration's id at its first run (in the bookkeeping; {@link #forget} removes it). */
    default void recordMigrationId(io.migrator.core.state.MigrationId id) {
    }

    /** Stores a validation's outcome (the report as JSON), so status shows it after restarts. */
    default void saveValidation(io.migrator.core.state.ValidationRecord record) {
    }

    /** The last stored validation, if any. */
    default Optional<io.migrator.core.state.ValidationRecord> lastValidation() {
        return Optional.empty();
    }

    /**
     * Deletes this migration's bookkeeping (state, journal, chunk plans, checkpoint, validations) and the bookkeeping schema
     * once no other migration uses it; the migrated tables stay. Returns what was removed. Idempotent.
     */
    default List<String> forget() {
        return List.of();
    }

    /** What {@link #forget} would remove now, read without changing anything (`complete --dry-run`). */
    default List<String> kept() {
        if (loadState().isEmpty()) {
            return List.of();
        }
        return List.of("the bookkeeping of this migration: its state, " + journal().size() + " journal entries, " + allChunks().size()
                + " chunk marks, its checkpoint and validation results (the bookkeeping schema too, once no other migration uses it)");
    }

    /** Runs a DDL statement on the target: one a {@link DdlJudge} decided to run. */
    void applyDdl(String statement);

    /**
     * How this target judges the source's DDL the stream meets, from one stream's start on (a judge may keep a model of
     * the tables). Empty: the stream carries only statements it made itself (TRUNCATE), judged by the core's policy.
     */
    default java.util.Optional<DdlJudge> ddlJudge(SourceSession source, io.migrator.core.plan.TableFilter tables, String sourceDatabase) {
        return java.util.Optional.empty();
    }

    @Override
    void close();

    interface ChunkWriter extends AutoCloseable {
        void write(List<Object[]> rows);

        /**
         * A sink for the chunk's rows in a source's own format (see {@link SourceSession#rawFormat}), or null when this
         * writer does not take that format; then rows go through {@link #write}. {@link #commit} ends the raw stream.
         */
        default SourceSession.RawSink raw(String format) {
            return null;
        }

        /** Writes the done mark and commits rows and mark together. */
        void commit(long rows);

        /** Rolls back unless committed. */
        @Override
        void close();
    }
}
