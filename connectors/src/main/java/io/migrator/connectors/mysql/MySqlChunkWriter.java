package io.migrator.connectors.mysql;

import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.state.Chunk;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.SQLWarning;
import java.sql.Statement;
import java.util.List;
import java.util.stream.Collectors;

/** One chunk's target transaction: the rows, then the done mark, committed together. */
final class MySqlChunkWriter implements TargetSession.ChunkWriter {
    /** Checks the worker's claim before the done mark commits (null: a writer made without a target, in tests). */
    volatile io.migrator.connectors.jdbc.Bookkeeping fence;

    private final Connection connection;
    private final String migration;
    private final TableDef table;
    private final Chunk chunk;
    private final String head;
    private final String row;
    /** The LOAD DATA statement and its pending rows; null when the copy goes by multi-row REPLACE. */
    private final String load;
    private final LoadDataRows pending;
    private final Runnable loadTurn;
    private boolean committed;

    private boolean unlogged;

    /** The copy's rows stay out of the target's binlog (snapshot.targetBinlog: false); needs SUPER or BINLOG ADMIN there. */
    MySqlChunkWriter unlogged() throws SQLException {
        try (java.sql.Statement st = connection.createStatement()) {
            st.execute("SET SESSION sql_log_bin = 0");
        } catch (SQLException e) {
            close();
            if (e.getErrorCode() == 1227) {
                throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.PREFLIGHT_FAILED,
                        "snapshot.targetBinlog: false needs the privilege to SET sql_log_bin on the target: " + e.getMessage(),
                        "GRANT BINLOG ADMIN (MariaDB) or SYSTEM_VARIABLES_ADMIN (MySQL) to the target user, or remove snapshot.targetBinlog "
                                + "(managed services such as RDS do not allow it)");
            }
            throw e;
        }
        unlogged = true;
        return this;
    }

    /** Pending LOAD DATA rows go to the target once they reach this size (and at commit). */
    static final int LOAD_BYTES = 4 << 20;

    /**
     * @param loadTurn non-null: stream rows with {@code LOAD DATA LOCAL INFILE} (the server parses tab-separated text for
     *     about a third less CPU than INSERT text), and run this once the chunk's transaction has ended; null: multi-row
     *     REPLACE statements
     */
    MySqlChunkWriter(Connection connection, String migration, TableDef table, TableId target, Chunk chunk, Runnable loadTurn)
            throws SQLException {
        this.connection = connection;
        this.migration = migration;
        this.table = table;
        this.chunk = chunk;
        List<ColumnDef> columns = table.writableColumns();
        try {
            connection.setAutoCommit(false);
        } catch (SQLException e) {
            connection.close(); // a broken connection: back to the pool, which discards it
            throw e;
        }
        // REPLACE, not INSERT: chunks are read at different moments, so a row copied early may still hold a unique value
        // that a row of a later chunk holds now (the stream fixes the early row later); and a chunk whose commit raced a
        // kill -9 may be copied again. Both would fail a plain INSERT.
        this.head = "REPLACE INTO " + MySqlDialect.quote(target) + " (" + MySqlDialect.columnList(columns) + ") VALUES ";
        this.row = "(" + columns.stream().map(MySqlDialect::placeholder).collect(Collectors.joining(", ")) + ")";
        this.load = loadTurn != null ? LoadDataRows.statement(target, columns) : null;
        this.pending = loadTurn != null ? new LoadDataRows(columns) : null;
        this.loadTurn = loadTurn;
    }

    @Override
    public void write(List<Object[]> rows) {
        try {
            if (load == null) {
                MySqlValues.executeMultiRow(connection, head, row, "", rows.stream().map(java.util.Arrays::asList).toList());
                return;
            }
            for (Object[] values : rows) {
                if (java.util.Arrays.stream(values).anyMatch(MySqlValues::isLarge)) {
                    // one statement of its own; rows of distinct keys, so it may pass the pending ones
                    MySqlValues.executeMultiRow(connection, head, row, "", List.of(java.util.Arrays.asList(values)));
                    continue;
                }
                pending.add(values);
                if (pending.bytes() >= LOAD_BYTES) {
                    flush();
                }
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("writing chunk " + chunk.number() + " of " + table.id(), e);
        }
    }

    /**
     * Sends the pending rows as one LOAD DATA. Any warning fails the chunk (a LOAD DATA LOCAL may report as a warning what
     * an INSERT reports as an error), and so does a row count below the rows sent: no value is ever cut or skipped.
     */
    private void flush() throws SQLException {
        if (pending == null || pending.rows() == 0) {
            return;
        }
        try (Statement st = connection.createStatement()) {
            st.unwrap(org.mariadb.jdbc.Statement.class).setLocalInfileInputStream(pending.stream());
            long affected;
            try {
                affected = st.executeLargeUpdate(load);
            } catch (SQLException e) {
                if (rowTextMismatch(e)) {
                    throw notAsSent(e.getMessage());
                }
                throw e;
            }
            SQLWarning warning = st.getWarnings();
            if (warning != null && rowTextMismatch(warning)) {
                throw notAsSent(warning.getMessage());
            }
            if (warning != null) {
                throw new SQLException(warning.getMessage(), warning.getSQLState(), warning.getErrorCode());
            }
            if (affected < pending.rows()) { // REPLACE counts 1 per new row, 2 per replaced one
                throw notAsSent("LOAD DATA stored " + affected + " of " + pending.rows() + " rows");
            }
        }
        pending.clear();
    }

    /** 1261/1262: a row with fewer or more fields than columns, i.e. migrator's row text did not parse as it was meant. */
    private static boolean rowTextMismatch(SQLException e) {
        return e.getErrorCode() == 1261 || e.getErrorCode() == 1262;
    }

    private io.migrator.core.error.MigratorException notAsSent(String what) {
        return new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.INTERNAL,
                "writing chunk " + chunk.number() + " of " + table.id() + " failed: the target did not load the rows as sent (" + what
                        + "); nothing of the chunk was committed",
                "SET GLOBAL local_infile = OFF on the target makes the copy use multi-row REPLACE statements instead, then run again "
                        + "(it resumes at this chunk); please report this with the table's definition");
    }

    @Override
    public void commit(long rows) {
        try {
            flush();
        } catch (SQLException e) {
            throw MySqlErrors.translate("writing chunk " + chunk.number() + " of " + table.id(), e);
        }
        try (PreparedStatement done = connection.prepareStatement(
                "UPDATE migrator.chunks SET done = TRUE, rows_copied = ? WHERE migration = ? AND table_name = ? AND chunk = ? AND NOT done")) {
            io.migrator.connectors.jdbc.Bookkeeping bookkeeping = fence;
            if (bookkeeping != null) {
                bookkeeping.fence(connection); // a worker that lost its claim commits no chunk after the new one registered
            }
            done.setLong(1, rows);
            done.setString(2, migration);
            done.setString(3, table.id().name());
            done.setInt(4, chunk.number());
            if (done.executeUpdate() == 0) {
                connection.rollback(); // already done (a retry after a lost commit answer): keep the first copy
                committed = true;
                return;
            }
            connection.commit();
            committed = true;
        } catch (SQLException e) {
            throw MySqlErrors.translate("committing chunk " + chunk.number() + " of " + table.id(), e);
        }
    }

    @Override
    public void close() {
        try {
            if (!committed) {
                connection.rollback();
            }
            connection.setAutoCommit(true);
            if (unlogged) {
                try (java.sql.Statement st = connection.createStatement()) {
                    st.execute("SET SESSION sql_log_bin = 1"); // the pool hands this connection to the applier next
                }
            }
        } catch (SQLException ignored) {
            // the connection is broken; the pool discards it
        } finally {
            if (loadTurn != null) {
                loadTurn.run();
            }
            try {
                connection.close();
            } catch (SQLException ignored) {
                // nothing more to do
            }
        }
    }
}
