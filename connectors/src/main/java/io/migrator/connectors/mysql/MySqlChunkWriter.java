package io.migrator.connectors.mysql;

import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.snapshot.Chunk;
import io.migrator.core.spi.TargetSession;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import java.util.stream.Collectors;

/** One chunk's target transaction: the rows, then the done mark, committed together. */
final class MySqlChunkWriter implements TargetSession.ChunkWriter {
    private final Connection connection;
    private final String migration;
    private final TableDef table;
    private final Chunk chunk;
    private final String head;
    private final String row;
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

    MySqlChunkWriter(Connection connection, String migration, TableDef table, TableId target, Chunk chunk) throws SQLException {
        this.connection = connection;
        this.migration = migration;
        this.table = table;
        this.chunk = chunk;
        List<ColumnDef> columns = table.writableColumns();
        connection.setAutoCommit(false);
        // REPLACE, not INSERT: chunks are read at different moments, so a row copied early may still hold a unique value
        // that a row of a later chunk holds now (the stream fixes the early row later); and a chunk whose commit raced a
        // kill -9 may be copied again. Both would fail a plain INSERT.
        this.head = "REPLACE INTO " + MySqlDialect.quote(target) + " (" + MySqlDialect.columnList(columns) + ") VALUES ";
        this.row = "(" + columns.stream().map(MySqlDialect::placeholder).collect(Collectors.joining(", ")) + ")";
    }

    @Override
    public void write(List<Object[]> rows) {
        try {
            MySqlValues.executeMultiRow(connection, head, row, "", rows.stream().map(java.util.Arrays::asList).toList());
        } catch (SQLException e) {
            throw MySqlErrors.translate("writing chunk " + chunk.number() + " of " + table.id(), e);
        }
    }

    @Override
    public void commit(long rows) {
        try (PreparedStatement done = connection.prepareStatement(
                "UPDATE migrator.chunks SET done = TRUE, rows_copied = ? WHERE migration = ? AND table_name = ? AND chunk = ?")) {
            done.setLong(1, rows);
            done.setString(2, migration);
            done.setString(3, table.id().name());
            done.setInt(4, chunk.number());
            done.executeUpdate();
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
            try {
                connection.close();
            } catch (SQLException ignored) {
                // nothing more to do
            }
        }
    }
}
