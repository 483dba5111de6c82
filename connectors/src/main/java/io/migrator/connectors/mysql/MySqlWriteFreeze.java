package io.migrator.connectors.mysql;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cutover's `lock-tables` freeze on a MySQL/MariaDB source: {@code LOCK TABLES ... READ} on the plan's tables in a
 * session of migrator's own, which it holds until the unfreeze. Writers queue behind the lock (they wait, they do not
 * fail), readers go on. The lock waits for running write transactions at most {@code lockWait} (lock_wait_timeout):
 * queued behind a long transaction, it would make every later statement on the table queue behind it, so it gives up
 * instead and the source stays writable. No SUPER is needed (RDS, Aurora), and the server releases the lock by itself if
 * migrator dies, so a kill -9 never leaves the source frozen.
 */
final class MySqlWriteFreeze {
    private static final Logger LOG = LoggerFactory.getLogger(MySqlWriteFreeze.class);
    /** ER_LOCK_WAIT_TIMEOUT: a running transaction held a table past the wait. */
    private static final int LOCK_WAIT_TIMEOUT = 1205;

    private final Plan plan;
    private Connection session;
    /** After the switch: statements queued behind the lock must not commit on the old source when it goes. */
    private boolean lasting;

    MySqlWriteFreeze(Plan plan) {
        this.plan = plan;
    }

    synchronized boolean frozen() {
        return session != null;
    }

    /** Locks the tables; idempotent while frozen. */
    synchronized void freeze(List<TableDef> tables, Duration lockWait) {
        if (session != null) {
            return;
        }
        if (tables.isEmpty()) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the plan selects no table on the source: there is nothing to freeze",
                    "check tables.include in " + plan.file());
        }
        long seconds = Math.max(1, (lockWait.toMillis() + 999) / 1000);
        String list = tables.stream().map(t -> MySqlDialect.quote(t.id()) + " READ").collect(Collectors.joining(", "));
        Connection c = null;
        try {
            c = MySqlFamilyConnector.connect(plan.source(), Duration.ofSeconds(10));
            try (Statement st = c.createStatement()) {
                st.execute("SET SESSION lock_wait_timeout = " + seconds);
                long started = System.nanoTime();
                st.execute("LOCK TABLES " + list);
                LOG.info("writes frozen on {} table(s) of the source in {} ms (LOCK TABLES ... READ)", tables.size(),
                        (System.nanoTime() - started) / 1_000_000);
            }
            session = c;
            lasting = false; // a new freeze is a new cutover's, before its switch (a worker that rolled back cuts over again)
        } catch (SQLException e) {
            closeQuietly(c);
            if (e.getErrorCode() == LOCK_WAIT_TIMEOUT) {
                throw new MigratorException(ErrorCode.TIMED_OUT, "the tables could not be locked within " + seconds + " s: a transaction "
                        + "on the source holds one of them (" + e.getMessage() + "); the source stays writable",
                        "find it (SELECT * FROM information_schema.innodb_trx ORDER BY trx_started) and let it finish, or cut over "
                                + "when no long transaction runs", e);
            }
            throw MySqlErrors.translate("freezing writes on the source (LOCK TABLES ... READ needs the LOCK TABLES and SELECT "
                    + "privileges)", e);
        }
    }

    /** From now on the release ends the sessions queued behind the lock first (the traffic is on the target). */
    synchronized void markLasting() {
        lasting = true;
    }

    /**
     * Releases the lock and its session; idempotent, and safe when nothing is frozen. Before the switch (an abort) the
     * writes queued behind it go through and the stream carries them; after it they are ended first.
     */
    synchronized void unfreeze() {
        Connection c = session;
        session = null;
        if (c == null) {
            return;
        }
        if (lasting) {
            endQueued();
        }
        try (Statement st = c.createStatement()) {
            st.execute("UNLOCK TABLES");
            LOG.info("writes open again on the source (UNLOCK TABLES)");
        } catch (SQLException e) {
            // closing the session releases the lock too: the server drops a session's table locks with it
            LOG.warn("UNLOCK TABLES failed ({}); closing the session releases the lock", e.getMessage());
        } finally {
            closeQuietly(c);
        }
    }

    /** Ends the sessions waiting for the plan's tables (they were queued behind the freeze); none of their writes was acknowledged. */
    private void endQueued() {
        String db = plan.source().database();
        int ended = 0;
        try (Connection c = MySqlFamilyConnector.connect(plan.source(), Duration.ofSeconds(10));
             java.sql.PreparedStatement ps = c.prepareStatement("SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() "
                     + "AND STATE LIKE 'Waiting for table%' AND (DB = ? OR INFO LIKE CONCAT('%', ?, '%'))")) {
            ps.setString(1, db);
            ps.setString(2, db);
            List<Long> ids = new java.util.ArrayList<>();
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getLong(1));
                }
            }
            try (Statement st = c.createStatement()) {
                for (long id : ids) {
                    if (MySqlCutover.kill(st, id)) {
                        ended++;
                    }
                }
            }
        } catch (SQLException e) {
            LOG.warn("could not end the sessions queued behind the freeze ({}): their writes may commit on the old source", e.getMessage());
        }
        if (ended > 0) {
            LOG.info("ended {} session(s) queued behind the freeze on the old source", ended);
        }
    }

    private static void closeQuietly(Connection c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (SQLException e) {
            LOG.debug("closing the freeze session: {}", e.getMessage());
        }
    }
}
