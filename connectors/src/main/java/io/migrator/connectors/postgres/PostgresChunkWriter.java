package io.migrator.connectors.postgres;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.schema.TableDef;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession.ChunkWriter;
import io.migrator.core.state.Chunk;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import java.util.stream.Collectors;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One chunk's COPY into the target and its done mark, in one transaction. */
final class PostgresChunkWriter implements ChunkWriter {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresChunkWriter.class);

    private final Connection c;
    private final TableDef table;
    private final Chunk chunk;
    private CopyIn copy;
    private org.postgresql.copy.PGCopyOutputStream out;
    private final String migration;
    private final io.migrator.connectors.jdbc.Bookkeeping bookkeeping;
    private boolean committed;

    /** On a connection in a transaction of its own, which this writer commits or rolls back and closes. */
    PostgresChunkWriter(Connection c, TableDef table, Chunk chunk, String migration, io.migrator.connectors.jdbc.Bookkeeping bookkeeping) {
        this.c = c;
        this.table = table;
        this.chunk = chunk;
        this.migration = migration;
        this.bookkeeping = bookkeeping;
    }

    @Override
    public void write(List<Object[]> rows) {
        throw new MigratorException(ErrorCode.NOT_AVAILABLE, "row-by-row copies into PostgreSQL are not available",
                "PostgreSQL targets take PostgreSQL sources, copied with COPY");
    }

    @Override
    public SourceSession.RawSink raw(String format) {
        String kind = PostgresSource.FORMAT_BINARY.equals(format) ? "binary" : PostgresSource.FORMAT_TEXT.equals(format) ? "text" : null;
        if (kind == null) {
            return null;
        }
        String list = table.writableColumns().stream().map(col -> PostgresDialect.quote(col.name())).collect(Collectors.joining(", "));
        try {
            copy = c.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY " + PostgresDialect.quote(table.id()) + " (" + list
                    + ") FROM STDIN (FORMAT " + kind + ")");
        } catch (SQLException e) {
            throw PostgresErrors.translate("starting the copy of chunk " + chunk.number() + " of " + table.id(), e);
        }
        // the source sends one message per row; the target takes them 64 KB at a time (COPY data need not align with rows)
        out = new org.postgresql.copy.PGCopyOutputStream(copy, 1 << 16);
        return (buffer, length) -> {
            try {
                out.write(buffer, 0, length);
            } catch (java.io.IOException e) {
                throw e.getCause() instanceof SQLException sql
                        ? PostgresErrors.translate("copying chunk " + chunk.number() + " of " + table.id() + " into the target", sql)
                        : new io.migrator.core.error.RetriableException(ErrorCode.CANNOT_CONNECT, "copying chunk " + chunk.number() + " of " + table.id()
                        + " into the target failed: " + e.getMessage(), "migrator retries the chunk; if it persists, check the target", e);
            }
        };
    }

    @Override
    public void commit(long rows) {
        try {
            long written = out != null ? out.endCopy() : 0;
            bookkeeping.fence(c); // a worker that lost its claim commits no chunk after the new one registered
            try (PreparedStatement ps = c.prepareStatement("UPDATE migrator.chunks SET done = true, rows_copied = ? WHERE migration = ? "
                    + "AND table_schema = ? AND table_name = ? AND chunk = ? AND NOT done")) {
                ps.setLong(1, copy == null ? rows : written);
                ps.setString(2, migration);
                ps.setString(3, table.id().schema());
                ps.setString(4, table.id().name());
                ps.setInt(5, chunk.number());
                if (ps.executeUpdate() == 0) {
                    // already done: a retry after a commit whose answer was lost. The table has no key during the copy,
                    // so committing this copy too would leave every row of the chunk twice
                    c.rollback();
                    committed = true;
                    LOG.info("chunk {} of {} was already committed; this second copy of it is discarded", chunk.number(), table.id());
                    return;
                }
            }
            c.commit();
            committed = true;
        } catch (SQLException e) {
            throw PostgresErrors.translate("committing chunk " + chunk.number() + " of " + table.id(), e);
        }
    }

    @Override
    public void close() {
        try {
            if (!committed) {
                if (copy != null && copy.isActive()) {
                    copy.cancelCopy();
                }
                c.rollback();
            }
        } catch (SQLException e) {
            LOG.debug("rolling back an unfinished chunk", e);
        } finally {
            try {
                c.close();
            } catch (SQLException e) {
                LOG.debug("closing a chunk connection", e);
            }
        }
    }
}
