package io.migrator.connectors.jdbc;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.spi.WorkerLease;
import io.migrator.core.state.WorkerRecord;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.Optional;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker per migration on a SQL target: a session lock (PostgreSQL advisory lock, MySQL/MariaDB {@code GET_LOCK})
 * held on a connection of its own for as long as the worker runs, and a row in {@code migrator.worker} saying where that
 * worker serves its API. The server releases the lock the moment the worker's session ends, kill -9 included, so a
 * restart never waits for a lease to expire; a worker whose session is lost (failover, network) claims again, and
 * stops if another worker got there first.
 */
public final class WorkerClaim implements WorkerLease {
    private static final Logger LOG = LoggerFactory.getLogger(WorkerClaim.class);
    /** How long a claim waits for a holder that is going away (a killed worker's session ending on the server). */
    static final long GRACE_MILLIS = 5_000;
    static final long WATCH_MILLIS = 5_000;

    /** What differs between engines. */
    public interface Dialect extends Bookkeeping.Dialect {
        /** A connection outside the pool, kept for the worker's lifetime. */
        Connection openSession() throws SQLException;

        /** Takes the lock without waiting (one parameter: {@link #lockName}); one row, true or 1 when taken. */
        String tryLock();

        /** The server session holding the lock (one parameter: {@link #lockName}); no row or NULL when free. */
        String lockHolder();

        /** Upsert into migrator.worker of (migration, address, host, pid, started_at, token). */
        String upsertWorker();

        /** This session's id, as {@link #lockHolder} reports holders. */
        String sessionId();

        /** Reads the migration's worker token with a shared lock kept until the transaction ends (one parameter). */
        String fenceToken();

        /** The statement that ends a session holding the lock (a worker runs it on its own session left behind). */
        String endSession(String holder);

        /** What the error tells a DBA to run to end a session that holds the lock. */
        default String endSessionAdvice(String holder) {
            return endSession(holder);
        }
    }

    private final Dialect dialect;
    private final String migration;
    private final WorkerRecord self;
    private final Consumer<MigratorException> lost;
    /** Written with the registration, checked by every apply transaction ({@link #fence}). */
    private final String token = java.util.UUID.randomUUID().toString();
    private volatile Connection session;
    /** The server's id of the session that holds the lock (to end it when it outlives its connection here). */
    private volatile String sessionId;
    private volatile boolean closed;
    private Thread watch;

    private WorkerClaim(Dialect dialect, String migration, WorkerRecord self, Consumer<MigratorException> lost) {
        this.dialect = dialect;
        this.migration = migration;
        this.self = self;
        this.lost = lost;
    }

    /** The lock's name: readable where the server shows it, within MySQL's 64 characters. */
    public static String lockName(String migration) {
        String name = "migrator:" + migration;
        if (name.length() <= 64) {
            return name;
        }
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(migration.getBytes(StandardCharsets.UTF_8));
            return "migrator:" + HexFormat.of().formatHex(digest, 0, 20);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Claims the migration, waiting up to a few seconds for a holder that is going away. */
    public static WorkerClaim claim(Dialect dialect, String migration, WorkerRecord self, Consumer<MigratorException> lost) {
        WorkerClaim claim = new WorkerClaim(dialect, migration, self, lost);
        try {
            claim.acquire(null);
        } catch (SQLException e) {
            throw dialect.translate("claiming migration " + migration + " on the target", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.INTERNAL, "interrupted while claiming migration " + migration, "run it again");
        }
        claim.watch = WorkerLease.keep(claim::watch);
        return claim;
    }

    /**
     * Takes the lock on a new session and registers, waiting up to {@link #GRACE_MILLIS} for a holder that is going away.
     * {@code previous}: this worker's own earlier session, which may outlive its broken connection on the server; it is
     * ended rather than waited for.
     */
    private void acquire(String previous) throws SQLException, InterruptedException {
        Connection c = dialect.openSession();
        try {
            long deadline = System.currentTimeMillis() + GRACE_MILLIS;
            boolean waited = false;
            while (!tryLock(dialect, c, migration)) {
                String holder = holderSession(dialect, c, migration);
                if (System.currentTimeMillis() >= deadline) {
                    throw held(c);
                }
                if (previous != null && previous.equals(holder) && stillOurs(c)) {
                    // our own session, left behind by the lost connection: ended, not waited for. The token tells it from
                    // another worker's session that got the same id (MySQL numbers sessions from 1 again after a restart)
                    try (Statement st = c.createStatement()) {
                        st.execute(dialect.endSession(holder));
                    } catch (SQLException e) {
                        LOG.debug("could not end this worker's previous session {}", holder, e);
                    }
                } else if (!waited) {
                    LOG.info("another session holds migration {}'s claim on the target; waiting up to {} s for it to end",
                            migration, GRACE_MILLIS / 1000);
                    waited = true;
                }
                Thread.sleep(250);
            }
            String id;
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(dialect.sessionId())) {
                rs.next();
                id = rs.getString(1);
            }
            register(c);
            synchronized (this) {
                if (closed) {
                    closeQuietly(c); // closed meanwhile: ending the session releases the lock again
                    return;
                }
                session = c;
                sessionId = id;
            }
        } catch (SQLException | RuntimeException | InterruptedException e) {
            closeQuietly(c);
            throw e;
        }
    }

    /** Whether the registration still carries this worker's token (no other worker registered since). */
    private boolean stillOurs(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT token FROM migrator.worker WHERE migration = ?")) {
            ps.setString(1, migration);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && token.equals(rs.getString(1));
            }
        }
    }

    /**
     * Called first in every apply transaction: reads the migration's worker token under a shared lock held to the
     * commit. A worker claiming the migration must update that row, so it waits for this transaction to end, and every
     * later transaction of this worker sees the new token and is refused: nothing this worker applies can land after
     * another worker took over.
     */
    public void fence(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(dialect.fenceToken())) {
            ps.setString(1, migration);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next() && token.equals(rs.getString(1))) {
                    return;
                }
            }
        }
        Optional<WorkerRecord> other = registered(c, migration);
        MigratorException taken = new MigratorException(ErrorCode.WORKER_RUNNING, "migration " + migration + " was claimed by "
                + other.map(w -> "another worker (" + w.describe() + ")").orElse("another session") + " while this worker ran; "
                + "this worker stops without applying more", "follow the other worker with `migrator status PLAN`; if it should "
                + "not run, stop it (SIGTERM) and `migrator run` again");
        lost.accept(taken);
        throw taken;
    }

    /** The worker holding the claim, as it registered itself; empty when no session holds it. */
    public static Optional<WorkerRecord> holder(Dialect dialect, DataSource pool, String migration) {
        try (Connection c = pool.getConnection()) {
            if (holderSession(dialect, c, migration) == null) {
                return Optional.empty();
            }
            return registered(c, migration);
        } catch (SQLException e) {
            if (dialect.missing(e)) {
                return Optional.empty();
            }
            throw dialect.translate("reading which worker runs migration " + migration, e);
        }
    }

    private static boolean tryLock(Dialect dialect, Connection c, String migration) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(dialect.tryLock())) {
            ps.setString(1, lockName(migration));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    private static String holderSession(Dialect dialect, Connection c, String migration) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(dialect.lockHolder())) {
            ps.setString(1, lockName(migration));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    private static Optional<WorkerRecord> registered(Connection c, String migration) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT address, host, pid, started_at FROM migrator.worker WHERE migration = ?")) {
            ps.setString(1, migration);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(new WorkerRecord(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getString(4)))
                        : Optional.empty();
            }
        }
    }

    private void register(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(dialect.upsertWorker())) {
            ps.setString(1, migration);
            ps.setString(2, self.address());
            ps.setString(3, self.host());
            ps.setLong(4, self.pid());
            ps.setString(5, self.startedAt());
            ps.setString(6, token);
            ps.executeUpdate();
        }
    }

    /** The claim is held by another session: name it, and the worker it registered, with what to do. */
    private MigratorException held(Connection c) throws SQLException {
        String holder = holderSession(dialect, c, migration);
        // the row may still be this worker's own when the session that took the lock has not registered (yet)
        Optional<WorkerRecord> other = registered(c, migration).filter(w -> w.pid() != self.pid() || !w.host().equals(self.host()));
        String who = other.map(w -> "a worker (" + w.describe() + ")").orElse("another session");
        return new MigratorException(ErrorCode.WORKER_RUNNING, "migration " + migration + " already runs: " + who + " holds its claim "
                + "on the target" + (holder == null ? "" : " (target session " + holder + ")"), "follow it with `migrator status PLAN`, "
                + "or stop it (SIGTERM) before starting another worker" + (holder == null ? "" : "; if its host is gone, end its "
                + "session on the target: " + dialect.endSessionAdvice(holder)));
    }

    /** Keeps the claim: if its session dies, claims again on a new one, or stops the worker if another holds it. */
    private void watch() {
        boolean warned = false;
        while (!closed) {
            try {
                Thread.sleep(WATCH_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
            Connection c = session;
            try {
                if (c != null && c.isValid(5)) {
                    warned = false;
                    continue;
                }
            } catch (SQLException e) {
                // not valid: claim again below
            }
            if (!warned) {
                LOG.warn("the target session holding migration {}'s claim ended; claiming it again", migration);
                warned = true;
            }
            String previous;
            synchronized (this) {
                if (closed) {
                    return;
                }
                previous = sessionId;
                session = null;
            }
            closeQuietly(c);
            try {
                acquire(previous);
                LOG.info("claimed migration {} again on the target", migration);
            } catch (MigratorException e) {
                if (e.code() != ErrorCode.WORKER_RUNNING) {
                    continue; // the target is unreachable or refused: the applier retries too; try again at the next round
                }
                LOG.error("{}; this worker stops", e.getMessage());
                lost.accept(e);
                return;
            } catch (SQLException | RuntimeException e) {
                // the target is unreachable: the applier retries too; try again at the next round
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @Override
    public void close() {
        Connection c;
        synchronized (this) {
            closed = true;
            c = session;
            session = null;
        }
        WorkerLease.stop(watch);
        if (c == null) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM migrator.worker WHERE migration = ? AND pid = ? AND host = ?")) {
            ps.setString(1, migration);
            ps.setLong(2, self.pid());
            ps.setString(3, self.host());
            ps.executeUpdate();
        } catch (SQLException e) {
            LOG.debug("could not remove the worker registration (a stale row is ignored: no session holds the claim)", e);
        }
        closeQuietly(c); // ending the session releases the lock
    }

    private static void closeQuietly(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // closing anyway
            }
        }
    }
}
