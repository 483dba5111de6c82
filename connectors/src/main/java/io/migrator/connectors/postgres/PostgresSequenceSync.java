package io.migrator.connectors.postgres;

import com.zaxxer.hikari.HikariDataSource;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logical replication carries no sequence changes: while the stream applies, every few seconds each target sequence is
 * brought up to at least the source's value (never lowered), so at cutover the target hands out no id the source already
 * used; the cutover syncs once more inside its freeze. One sync at a time, on one kept source connection.
 */
final class PostgresSequenceSync implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresSequenceSync.class);

    private final Plan plan;
    private final HikariDataSource pool;
    private final PostgresTargetCutover.Source source;

    PostgresSequenceSync(Plan plan, HikariDataSource pool, PostgresTargetCutover.Source source) {
        this.plan = plan;
        this.pool = pool;
        this.source = source;
    }

    private static final long SEQUENCE_SYNC_SECONDS = 5;
    private java.util.concurrent.ScheduledExecutorService sequenceSync;
    private volatile List<TableDef> planTables;

    /**
     * Logical replication carries no sequence changes: while the stream applies, every few seconds each target sequence is
     * brought up to at least the source's value (never lowered), so at cutover the target hands out no id the source
     * already used. On a thread of its own: a source that hangs holds the sync (at most network.readTimeout a read), not
     * the applier, which the stall detector must see idle when the stream is silent.
     */
    synchronized void start() {
        if (sequenceSync != null) {
            return;
        }
        sequenceSync = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sequence-sync");
            t.setDaemon(true);
            return t;
        });
        sequenceSync.scheduleWithFixedDelay(() -> {
            try {
                sync();
            } catch (RuntimeException e) {
                LOG.warn("could not bring the target's sequences up to the source's this time: {}", e.getMessage());
            }
        }, SEQUENCE_SYNC_SECONDS, SEQUENCE_SYNC_SECONDS, java.util.concurrent.TimeUnit.SECONDS);
    }

    synchronized void stop() {
        if (sequenceSync != null) {
            sequenceSync.shutdownNow();
            sequenceSync = null;
        }
    }

    /** The periodic sync stops and its kept source connection closes: with the target, or when it forgets the migration. */
    @Override
    public void close() {
        stop();
        synchronized (sequenceLock) {
            closeSyncSource();
        }
    }

    /** Brings every sequence of the plan's tables on the target up to at least the source's value; returns those moved. */
    List<String> sync() {
        synchronized (sequenceLock) { // one at a time: a sync that read the source earlier must not set a sequence back
            return syncSequencesNow();
        }
    }

    private final Object sequenceLock = new Object();
    /**
     * The sync's source connection, kept between syncs (guarded by {@link #sequenceLock}): a login every few seconds cost
     * the source a new backend, a TLS handshake and a SCRAM exchange each time, and the JVM as much again.
     */
    private Connection syncSource;

    private List<String> syncSequencesNow() {
        boolean kept = syncSource != null;
        try {
            return syncSequencesOn(syncSource());
        } catch (SQLException e) {
            closeSyncSource();
            if (!kept) {
                throw PostgresErrors.translate("bringing the target's sequences up to the source's", e);
            }
        }
        // the kept connection broke while idle (the source restarted, idle_session_timeout, a proxy's idle limit): once more on
        // a new one, so an idle limit shows up as no warning at all
        try {
            return syncSequencesOn(syncSource());
        } catch (SQLException e) {
            closeSyncSource();
            throw PostgresErrors.translate("bringing the target's sequences up to the source's", e);
        }
    }

    private List<String> syncSequencesOn(Connection s) throws SQLException {
        try (Connection c = pool.getConnection()) {
            if (planTables == null) {
                planTables = PostgresSchema.tables(s, plan.tables());
            }
            return PostgresSchema.syncSequences(s, c, planTables);
        }
    }

    private Connection syncSource() throws SQLException {
        if (syncSource == null) {
            syncSource = source.connect();
        }
        return syncSource;
    }

    private void closeSyncSource() {
        Connection c = syncSource;
        syncSource = null;
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // broken already
            }
        }
    }
}
