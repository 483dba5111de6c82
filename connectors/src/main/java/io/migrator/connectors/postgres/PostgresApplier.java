package io.migrator.connectors.postgres;

import com.zaxxer.hikari.HikariDataSource;
import io.migrator.connectors.jdbc.Bookkeeping;
import io.migrator.core.change.RowChange;
import io.migrator.core.change.SourcePosition;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the stream's changes and statements reach a PostgreSQL target: one connection kept from batch to batch, whose
 * session carries this direction's replication origin ({@link PostgresOrigin}, which one session at a time may hold). Each
 * batch commits with its checkpoint; a large source transaction's open batches stay in that connection's transaction until
 * its closing batch commits them (never on another connection: if it died, the write fails and the stream starts again from
 * the checkpoint). After a failure the connection is discarded and the next batch takes another. Its methods are
 * synchronized: repairs may run on the validator's thread while no applier runs.
 */
final class PostgresApplier {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresApplier.class);
    /** A connection idle this long is checked before a batch between transactions, as the pool checks one it hands out. */
    private static final long IDLE_CHECK_NANOS = Duration.ofSeconds(10).toNanos();

    private final String migration;
    private final HikariDataSource pool;
    private final PostgresChangeWriter writer;
    private final PostgresOrigin origin;
    private final Bookkeeping bookkeeping;

    private Connection connection;
    private boolean tagged;
    private long used;
    /** A large source transaction's open batches are written into the connection's transaction, not committed yet; their events. */
    private volatile boolean open;
    private long openEvents;

    PostgresApplier(String migration, HikariDataSource pool, PostgresChangeWriter writer, PostgresOrigin origin, Bookkeeping bookkeeping) {
        this.migration = migration;
        this.pool = pool;
        this.writer = writer;
        this.origin = origin;
        this.bookkeeping = bookkeeping;
    }

    boolean inOpenTransaction() {
        return open;
    }

    synchronized void applyOpen(List<RowChange> changes, long eventCount) {
        try {
            Connection c = connection();
            if (!open) {
                c.setAutoCommit(false);
                bookkeeping.fence(c);
                open = true;
            }
            writer.write(c, changes);
            openEvents += eventCount;
        } catch (SQLException e) {
            abandonOpen();
            throw PostgresErrors.translate("applying " + changes.size() + " changes of a large source transaction", e);
        } catch (RuntimeException e) {
            abandonOpen();
            throw e;
        }
    }

    synchronized void apply(List<RowChange> changes, SourcePosition position, long eventCount) {
        boolean held = open;
        long heldEvents = openEvents;
        try {
            // taken while `open` still holds: the connection of a large transaction's open batches is never swapped for
            // another (that would commit its last batch and checkpoint without the batches before it)
            Connection c = connection();
            open = false;
            openEvents = 0;
            try {
                c.setAutoCommit(false);
                if (!held) {
                    bookkeeping.fence(c); // first: a worker that took the migration over waits for this transaction, and refuses the next
                }
                writer.write(c, changes);
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO migrator.checkpoint (migration, position, events, updated_at) "
                        + "VALUES (?, ?, ?, clock_timestamp()) ON CONFLICT (migration) DO UPDATE SET position = EXCLUDED.position, "
                        + "events = migrator.checkpoint.events + EXCLUDED.events, updated_at = EXCLUDED.updated_at")) {
                    ps.setString(1, migration);
                    ps.setString(2, position.text());
                    ps.setLong(3, eventCount + heldEvents);
                    ps.executeUpdate();
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                discard(); // rolls back
                throw e;
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("applying " + changes.size() + " changes", e);
        }
    }

    /**
     * The stream's DDL (a TRUNCATE): transactional, so fenced like a batch (a worker that lost its claim must not empty a
     * table the new worker has filled since), and on this connection, so it carries this direction's origin like the rows.
     */
    synchronized void applyDdl(String statement) {
        if (open) {
            throw new IllegalStateException("a statement reached the target inside a large transaction's open batches");
        }
        try {
            Connection c = connection();
            try (Statement st = c.createStatement()) {
                c.setAutoCommit(false);
                bookkeeping.fence(c);
                st.execute(statement);
                c.commit();
            } catch (SQLException | RuntimeException e) {
                discard(); // rolls back
                throw e;
            }
            writer.forgetAll();
        } catch (SQLException e) {
            throw PostgresErrors.translate("applying source DDL on the target", e);
        }
    }

    /** The stream ended: the connection goes, and with it the session holding this direction's origin (which forget then drops). */
    synchronized void end() {
        open = false;
        openEvents = 0;
        discard();
    }

    /** A large transaction's open batches are given up (the stream replays the transaction from the checkpoint). */
    synchronized void abandonOpen() {
        boolean wasOpen = open;
        open = false;
        openEvents = 0;
        if (wasOpen) {
            discard();
        }
    }

    private Connection connection() throws SQLException {
        if (open) {
            return connection; // the transaction's own connection: if it died, the write fails and the stream starts again
        }
        long now = System.nanoTime();
        if (connection != null && now - used > IDLE_CHECK_NANOS && !connection.isValid(5)) {
            LOG.debug("the applier's connection died while the stream was quiet; taking another");
            discard();
        }
        if (connection == null) {
            Connection c = pool.getConnection();
            tagged = origin.tag(c); // outside any transaction: a failure to mark it leaves nothing to roll back
            connection = c;
        }
        used = now;
        return connection;
    }

    /** Rolls back what the connection holds, takes the origin off its session and gives it back (or discards it). */
    synchronized void discard() {
        Connection c = connection;
        connection = null;
        if (c == null) {
            return;
        }
        try {
            if (!c.getAutoCommit()) {
                c.rollback();
            }
        } catch (SQLException e) {
            LOG.debug("rolling back the applier's connection", e);
        }
        try {
            if (tagged && !PostgresOrigin.untag(c)) {
                c.abort(Runnable::run); // never back into the pool holding the origin: its server process ends and frees it
            }
        } catch (SQLException e) {
            LOG.debug("aborting the applier's connection", e);
        }
        try {
            c.close();
        } catch (SQLException e) {
            LOG.debug("closing the applier's connection", e);
        }
    }
}
