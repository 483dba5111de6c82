package io.migrator.core.spi;

import io.migrator.core.change.SourcePosition;
import io.migrator.core.plan.TableFilter;
import io.migrator.core.schema.TableDef;
import io.migrator.core.state.Chunk;
import java.util.List;

/** What the core needs from a source server. Implementations are thread-safe; each call takes its own connection. */
public interface SourceSession extends CutoverSource, AutoCloseable {
    /** The tables the filter selects, with their keys and create statements. */
    List<TableDef> tables(TableFilter filter);

    /** The current end of the change log (P0 when taken before the copy). */
    SourcePosition currentPosition();

    /**
     * Marks the start of the copy and returns P0, the position the stream starts from. Engines that can read every
     * chunk at one consistent point (PostgreSQL: a replication slot with an exported snapshot) set it up here; the
     * default is {@link #currentPosition()}. Called once per migration, after the target tables exist.
     */
    default SourcePosition beginSnapshot() {
        return currentPosition();
    }

    /** The copy is over: releases what {@link #beginSnapshot} holds (an exported snapshot); the start position stays. */
    default void endSnapshot() {
    }

    /**
     * The engine's own wire format for this table's rows when the source can hand a chunk's bytes straight to a target
     * of the same engine (PostgreSQL COPY), or empty; the coordinator then uses {@link #copyChunk} when the target's
     * writer takes that format.
     */
    default java.util.Optional<String> rawFormat(TableDef table) {
        return java.util.Optional.empty();
    }

    /** Streams one chunk in {@link #rawFormat} to the sink, buffer by buffer, unparsed; returns the row count. */
    default long copyChunk(TableDef table, Chunk chunk, String format, RawSink sink) {
        // only called when rawFormat() named a format: a source that names one implements this
        throw new IllegalStateException(getClass().getSimpleName() + " names a raw format for " + table.id() + " but does not copy in it");
    }

    /** Whether the source table holds at least one row (one indexed read, not a count). */
    boolean hasRows(TableDef table);

    /** Splits a table along its key into chunks of about {@code chunkRows} rows. */
    List<Chunk> planChunks(TableDef table, int chunkRows);

    /** Streams the rows of one chunk, in key order, to the sink in batches; returns the row count. */
    long readChunk(TableDef table, Chunk chunk, RowBatchSink sink);

    /**
     * Opens the change stream from a position (exclusive of what the position says was applied).
     * {@code streamId} names this migration's stream (local state such as schema history is kept under it;
     * a new migration gets a new id).
     */
    ChangeStream openStream(List<TableDef> tables, SourcePosition from, String streamId);

    /** How busy the source is now (MySQL/MariaDB: Threads_running); -1 when the engine has no such measure. */
    default int threadsRunning() {
        return -1;
    }

    /**
     * How far the source's log is ahead of {@code applied}, and how long it keeps what is still needed;
     * {@code neededSinceMillis} is the source time of the oldest change the migration still needs. Empty when
     * the engine cannot tell (or lacks the privilege); called about once a second, so it must be cheap.
     */
    default java.util.Optional<SourceLogStatus> logStatus(SourcePosition applied, long neededSinceMillis) {
        return java.util.Optional.empty();
    }

    /** Checksums over the source's rows (validation). */
    default RowChecksums checksums() {
        throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.NOT_AVAILABLE,
                "validation is not available for this source engine yet", "validate with the engine's own tools meanwhile");
    }

    /**
     * The current rows for these keys, as the stream would deliver them: an upsert with the full image, or a delete
     * when the row is gone (repair).
     */
    default List<io.migrator.core.change.RowChange> readRows(TableDef table, List<String> keys) {
        throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.NOT_AVAILABLE,
                "repair is not available for this source engine yet", "fix the rows by hand meanwhile");
    }

    /** Whether a target that applied up to {@code applied} has applied everything up to {@code goal}. */
    default boolean reached(SourcePosition applied, SourcePosition goal) {
        return applied.equals(goal);
    }

    /**
     * The id of the migration of this name that reads this source (its database), as its first run recorded it, with the
     * target it feeds; empty when none was recorded or the source keeps none.
     */
    default java.util.Optional<io.migrator.core.state.MigrationId> migrationId(String migration) {
        return java.util.Optional.empty();
    }

    /** Records the migration's id at its first run; false when the source cannot keep it (no privilege to create the table). */
    default boolean recordMigrationId(String migration, io.migrator.core.state.MigrationId id) {
        return false;
    }

    /**
     * Drops what the migration holds on the source (a replication slot and publication, its heartbeat row), so the source
     * keeps no log for it any longer; returns what was dropped, for the report. Idempotent.
     */
    default List<String> release(String migration) {
        return List.of();
    }

    /**
     * The source's own clock now (ms since the epoch), so lag is measured on the clock that stamped the changes and a
     * skewed worker host shows no lag that is not there; empty when the engine cannot say (the worker's clock is used).
     */
    default java.util.OptionalLong clockMillis() {
        return java.util.OptionalLong.empty();
    }

    /** What {@link #release} would drop now, read without changing anything (`complete --dry-run`). */
    default List<String> held(String migration) {
        return List.of();
    }

    @Override
    void close();

    /** Receives a chunk's bytes in an engine's own format; the buffer is the caller's until the call returns. */
    @FunctionalInterface
    interface RawSink {
        void write(byte[] buffer, int length);
    }

    /** Receives rows as arrays in {@link TableDef#writableColumns()} order. */
    @FunctionalInterface
    interface RowBatchSink {
        void accept(List<Object[]> rows);
    }
}
