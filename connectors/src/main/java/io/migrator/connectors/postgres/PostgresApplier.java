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

    /**
     * The applier's commits do not wait for the target's disk ({@code synchronous_commit = off}, as a native subscription's
     * apply worker commits): a batch and its checkpoint commit together or not at all either way, and a crash of the target
     * can lose only the last commits whose log was not flushed yet (at most wal_writer_delay's worth): the checkpoint goes
     * back with them, and the source keeps them, because the stream confirms a position to the source only once the
     * target's log flush passed its commit ({@link #durable}). The cutover's fence waits for the disk ({@link #makeDurable}).
     * {@code -Dmigrator.postgres.synchronousCommit=on} makes every commit wait.
     */
    static final boolean ASYNC_COMMIT = !"on".equals(System.getProperty("migrator.postgres.synchronousCommit"));

    /** A committed batch's position and a WAL position of the target at or after its commit record's end. */
    private record Committed(long walEnd, SourcePosition position) {
    }

    /** Commits not known to be on the target's disk yet, oldest first. */
    private final java.util.ArrayDeque<Committed> unflushed = new java.util.ArrayDeque<>();
    /** The newest position known to be on the target's disk and not handed out by {@link #durable} yet. */
    private SourcePosition flushed;

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
            committed(c, position);
        } catch (SQLException e) {
            throw PostgresErrors.translate("applying " + changes.size() + " changes", e);
        }
    }

    /**
     * After a commit: where the target's log is now (at or past the commit record's end) and how far it is on disk. One
     * statement outside any transaction, so the session is not left idle in one (that would hold back the target's vacuum).
     */
    private void committed(Connection c, SourcePosition position) {
        if (!ASYNC_COMMIT) {
            flushed = position;
            return;
        }
        try {
            c.setAutoCommit(true);
            try (Statement st = c.createStatement(); java.sql.ResultSet rs = st.executeQuery(
                    "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint, (pg_current_wal_flush_lsn() - '0/0')::bigint")) {
                rs.next();
                unflushed.addLast(new Committed(rs.getLong(1), position));
                release(rs.getLong(2));
            }
        } catch (SQLException e) {
            // the batch committed: its position is confirmed with a later one (or, after a restart, replayed and skipped)
            LOG.debug("reading the target's log position after a commit: {}", e.getMessage());
            discard();
        }
    }

    /** The commits whose log ends at or before {@code flushedTo} are on disk. */
    private void release(long flushedTo) {
        while (!unflushed.isEmpty() && unflushed.peekFirst().walEnd() <= flushedTo) {
            flushed = unflushed.pollFirst().position();
        }
    }

    /** The newest applied position known to be on the target's disk, once (nothing when none became durable since). */
    synchronized java.util.Optional<SourcePosition> durable() {
        SourcePosition p = flushed;
        flushed = null;
        return java.util.Optional.ofNullable(p);
    }

    /**
     * Every commit so far reaches the disk: a write transaction that waits for the disk flushes the log up to its own commit
     * record, and with it every commit before (on any session).
     */
    synchronized void makeDurable() {
        if (unflushed.isEmpty()) {
            return;
        }
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                "UPDATE migrator.checkpoint SET updated_at = updated_at WHERE migration = ?")) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.execute("SET LOCAL synchronous_commit = on");
            }
            ps.setString(1, migration);
            ps.executeUpdate();
            c.commit();
            release(Long.MAX_VALUE);
        } catch (SQLException e) {
            throw PostgresErrors.translate("waiting for the target's disk to hold the applied changes", e);
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
            if (ASYNC_COMMIT) {
                try (Statement st = c.createStatement()) {
                    st.execute("SET synchronous_commit = off"); // this session only: reset before it goes back to the pool
                }
            }
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
            } else if (ASYNC_COMMIT && !c.isClosed()) {
                try (Statement st = c.createStatement()) {
                    st.execute("RESET synchronous_commit"); // the pool's other users commit as the server says
                } catch (SQLException e) {
                    c.abort(Runnable::run); // never back into the pool committing without waiting for the disk
                }
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
