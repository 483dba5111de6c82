package io.migrator.connectors.postgres;

import com.zaxxer.hikari.HikariDataSource;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.postgresql.replication.LogSequenceNumber;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A migration's logical replication slot and publication on one PostgreSQL server, from their making (before the copy,
 * or before a cutover's freeze for the direction that streams after it) to their dropping: the publication holds the
 * plan's tables and the heartbeat table and publishes every kind of change; before a stream starts again both are
 * checked (the slot still there and not confirmed past the checkpoint, the publication still carrying every change).
 */
final class PostgresSlot {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresSlot.class);

    private final Plan plan;
    private final HikariDataSource pool;
    private final String slot;
    private final String publication;

    PostgresSlot(Plan plan, HikariDataSource pool) {
        this.plan = plan;
        this.pool = pool;
        this.slot = name(plan.name());
        this.publication = slot;
    }

    /**
     * The slot and publication of a migration: {@code migrator_} and the plan name, within 63 bytes. Slot names allow only
     * {@code [a-z0-9_]}; a plan name with other characters (a dash) gets a short hash of itself appended, so "shop-a" and
     * "shop_a" never share a slot (one migration's start would drop the other's).
     */
    static String name(String plan) {
        String base = "migrator_" + plan.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
        boolean exact = plan.matches("[a-z0-9_]+");
        String hash = String.format("%06x", plan.hashCode() & 0xffffff);
        if (exact && base.length() <= 63) {
            return base;
        }
        return (base.length() <= 56 ? base : base.substring(0, 56)) + "_" + hash;
    }

    String slot() {
        return slot;
    }

    String publication() {
        return publication;
    }

    /**
     * Before the copy: the heartbeat table, the publication holding exactly the plan's tables and no slot (one left by an
     * interrupted start is dropped: nothing was copied under it); the slot itself is made with the copy's exported snapshot.
     */
    void prepareForCopy(List<TableDef> tables) {
        try (Connection c = pool.getConnection()) {
            boolean heartbeat = PostgresHeartbeat.ensureTable(c, plan.name());
            if (dropSlot(c)) {
                LOG.warn("dropped the replication slot {} left by an interrupted start (no row was copied under it)", slot);
            }
            ensurePublication(c, tables, heartbeat);
        } catch (SQLException e) {
            throw publicationFailed(e);
        }
    }

    /** The migration's publication holding exactly the plan's tables (and the heartbeat table), made afresh when it does not. */
    private void ensurePublication(Connection c, List<TableDef> tables, boolean heartbeat) throws SQLException {
        try (Statement st = c.createStatement()) {
            java.util.Set<io.migrator.core.schema.TableId> wanted = new java.util.TreeSet<>(tables.stream().map(TableDef::id).toList());
            Publication existing = publication(c, wanted);
            String problem = existing == null ? "missing" : existing.problem(wanted, true);
            if (problem == null) {
                LOG.info("using the existing publication {}: it holds exactly the plan's tables and publishes every change", publication);
            } else {
                if (existing != null) {
                    LOG.warn("the publication {} {}; it is made afresh", publication, problem);
                    st.execute("DROP PUBLICATION " + PostgresDialect.quote(publication));
                }
                List<String> members = new ArrayList<>(tables.stream().map(t -> PostgresDialect.quote(t.id())).toList());
                if (heartbeat) {
                    members.add(PostgresHeartbeat.TABLE_SQL);
                }
                // partitioned tables: changes reported under the root the plan names, not under each partition (PostgreSQL 13+)
                boolean viaRoot = c.getMetaData().getDatabaseMajorVersion() >= 13;
                st.execute("CREATE PUBLICATION " + PostgresDialect.quote(publication)
                        + (members.isEmpty() ? "" : " FOR TABLE " + String.join(", ", members))
                        + (viaRoot ? " WITH (publish_via_partition_root = true)" : ""));
            }
        }
    }

    /**
     * Before a cutover's freeze, on the server this direction will stream from after the switch (the new server for the
     * reverse direction; the old source for the forward direction again, before a rollback's freeze): the heartbeat table,
     * the publication and the logical slot, made afresh. Creating a slot waits for every transaction running on the server,
     * which a freeze must never do; the stream later starts at the fence position, after the slot's consistent point, so
     * nothing committed before the fence (the forward direction's own applied rows) comes back. Returns what was made.
     */
    String prepareStream(List<TableDef> tables) {
        String at;
        try (Connection c = pool.getConnection()) {
            boolean heartbeat = PostgresHeartbeat.ensureTable(c, plan.name());
            if (dropSlot(c)) {
                LOG.info("dropped the replication slot {} left by an earlier cutover attempt (nothing has streamed from it)", slot);
            }
            ensurePublication(c, tables, heartbeat);
        } catch (SQLException e) {
            throw publicationFailed(e);
        }
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT lsn::text FROM pg_create_logical_replication_slot(?, 'pgoutput')")) {
            ps.setString(1, slot);
            try (Statement st = c.createStatement()) {
                st.execute("SET statement_timeout = '" + SLOT_WAIT.toMillis() + "ms'");
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                at = rs.getString(1);
            } catch (SQLException e) {
                if ("57014".equals(e.getSQLState())) { // canceled by the statement timeout
                    throw slotWaited(c);
                }
                throw e;
            } finally {
                try (Statement st = c.createStatement()) {
                    st.execute("RESET statement_timeout");
                } catch (SQLException reset) {
                    LOG.debug("could not reset statement_timeout (the connection is discarded): {}", reset.getMessage());
                    c.abort(Runnable::run); // never back into the pool with the 10 s limit, and never hiding the first error
                }
            }
        } catch (SQLException e) {
            throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "cannot create the replication slot " + slot + " on "
                    + plan.source().address() + " for " + plan.name() + ": " + e.getMessage(), "the login needs the "
                    + "REPLICATION attribute there (ALTER ROLE ... WITH REPLICATION; on RDS GRANT rds_replication), the server wal_level = "
                    + "logical (on RDS rds.logical_replication = 1) and a free slot (max_replication_slots); or cut over without a way "
                    + "back: cutover.reverse: false", e);
        }
        LOG.info("slot {} created at {}, publication {} holds {} tables, for {}", slot, at, publication, tables.size(), plan.name());
        return "replication slot " + slot + " and publication " + publication + " made at " + at + " for " + plan.name();
    }

    /** How long making a slot may wait for the transactions running on the server (before any freeze: the cutover is refused). */
    private static final java.time.Duration SLOT_WAIT = java.time.Duration.ofSeconds(10);

    /** Making the slot waited too long: the transactions it waited for, named, and nothing frozen. */
    private MigratorException slotWaited(Connection c) throws SQLException {
        List<String> open = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pid, usename, "
                + "extract(epoch FROM now() - xact_start)::bigint, left(coalesce(query, ''), 60) FROM pg_stat_activity "
                + "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() ORDER BY xact_start LIMIT 5")) {
            while (rs.next()) {
                open.add("pid " + rs.getInt(1) + " (" + rs.getString(2) + ", open " + rs.getLong(3) + " s: " + rs.getString(4) + ")");
            }
        }
        return new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "making the replication slot " + slot + " on " + plan.source().address()
                + " waited " + SLOT_WAIT.toSeconds() + " s for the transactions running there" + (open.isEmpty() ? "" : ": " + String.join(", ", open))
                + "; nothing is frozen", "a new logical slot waits for every transaction open on the server to end: end or wait for those, "
                + "then cut over again (or cut over without a way back: cutover.reverse: false)");
    }

    /** Cut over (or an aborted cutover's preparation): this migration's slot and publication dropped; what went. */
    List<String> drop() {
        List<String> dropped = new ArrayList<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            if (dropSlot(c)) {
                dropped.add("replication slot " + slot);
            }
            try (ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_publication WHERE pubname = '" + publication.replace("'", "''") + "'")) {
                rs.next();
                if (rs.getInt(1) > 0) {
                    st.execute("DROP PUBLICATION " + PostgresDialect.quote(publication));
                    dropped.add("publication " + publication);
                }
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("dropping the slot and publication of " + plan.name(), e);
        }
        return dropped;
    }

    /** The migration's publication as the source has it: its tables (the heartbeat table left out) and what it publishes. */
    record Publication(boolean allTables, java.util.Set<io.migrator.core.schema.TableId> tables, boolean insert, boolean update,
                       boolean delete, boolean truncate, boolean viaRoot, boolean viaRootNeeded, boolean filtered) {
        /**
         * Why it cannot carry the plan's changes, or null. {@code exact}: when the copy starts, it must hold the plan's tables and
         * no other; later, a table it holds beyond them is harmless (the stream leaves it out), a missing one is not.
         */
        String problem(java.util.Set<io.migrator.core.schema.TableId> wanted, boolean exact) {
            if (allTables) {
                return "publishes all tables instead of the plan's";
            }
            java.util.Set<io.migrator.core.schema.TableId> missing = new java.util.TreeSet<>(wanted);
            missing.removeAll(tables);
            if (!missing.isEmpty()) {
                return "lacks the plan's tables " + missing;
            }
            if (exact && !tables.equals(wanted)) {
                java.util.Set<io.migrator.core.schema.TableId> extra = new java.util.TreeSet<>(tables);
                extra.removeAll(wanted);
                return "holds tables the plan does not move " + extra;
            }
            List<String> off = new ArrayList<>();
            if (!insert) {
                off.add("insert");
            }
            if (!update) {
                off.add("update");
            }
            if (!delete) {
                off.add("delete");
            }
            if (!truncate) {
                off.add("truncate");
            }
            if (!off.isEmpty()) {
                return "does not publish " + String.join(", ", off);
            }
            if (filtered) {
                return "filters the rows or columns of its tables (a WHERE clause or a column list)";
            }
            return viaRootNeeded && !viaRoot ? "publishes partitions' changes under each partition (publish_via_partition_root is off)" : null;
        }
    }

    /** The migration's publication, or null when there is none. */
    private Publication publication(Connection c, java.util.Set<io.migrator.core.schema.TableId> wanted) throws SQLException {
        boolean viaRootNeeded = false; // only partitioned tables need their changes under the root the plan names (13+)
        if (c.getMetaData().getDatabaseMajorVersion() >= 13 && !wanted.isEmpty()) {
            try (PreparedStatement ps = c.prepareStatement("SELECT EXISTS (SELECT 1 FROM pg_class WHERE relkind = 'p' AND oid = ANY (?::regclass[]))")) {
                ps.setArray(1, c.createArrayOf("text", wanted.stream().map(PostgresDialect::quote).toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    viaRootNeeded = rs.getBoolean(1);
                }
            }
        }
        // pubtruncate exists from PostgreSQL 11 (10 publishes no TRUNCATE at all), pubviaroot from 13
        try (PreparedStatement ps = c.prepareStatement("SELECT p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, "
                + (c.getMetaData().getDatabaseMajorVersion() >= 11 ? "p.pubtruncate" : "true") + ", "
                + (c.getMetaData().getDatabaseMajorVersion() >= 13 ? "p.pubviaroot" : "false") + ", t.schemaname, t.tablename, "
                // row filters and column lists (15+): a publication that leaves rows or columns out cannot carry the migration
                + (c.getMetaData().getDatabaseMajorVersion() >= 15 ? "EXISTS (SELECT 1 FROM pg_publication_rel r WHERE r.prpubid = p.oid "
                        + "AND (r.prqual IS NOT NULL OR r.prattrs IS NOT NULL))" : "false") + " FROM pg_publication p "
                + "LEFT JOIN pg_publication_tables t ON t.pubname = p.pubname WHERE p.pubname = ?")) {
            ps.setString(1, publication);
            try (ResultSet rs = ps.executeQuery()) {
                java.util.Set<io.migrator.core.schema.TableId> tables = new java.util.TreeSet<>();
                Publication found = null;
                io.migrator.core.schema.TableId heartbeat = new io.migrator.core.schema.TableId(PostgresHeartbeat.SCHEMA, PostgresHeartbeat.TABLE);
                while (rs.next()) {
                    if (found == null) {
                        found = new Publication(rs.getBoolean(1), tables, rs.getBoolean(2), rs.getBoolean(3), rs.getBoolean(4),
                                rs.getBoolean(5), rs.getBoolean(6), viaRootNeeded, rs.getBoolean(9));
                    }
                    if (rs.getString(7) != null) {
                        io.migrator.core.schema.TableId t = new io.migrator.core.schema.TableId(rs.getString(7), rs.getString(8));
                        if (!t.equals(heartbeat)) {
                            tables.add(t);
                        }
                    }
                }
                return found;
            }
        }
    }

    /**
     * The slot must still exist and must not have been confirmed past the checkpoint: the stream confirms only what the
     * target committed, so a slot further ahead was dropped and made again (by hand, or by another plan of the same name)
     * or advanced by hand, and the changes in between are gone. Without this check a new slot of the same name would
     * silently stream from its own start.
     */
    void requireAt(SourcePosition from) {
        boolean exists;
        String confirmed = null;
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = ? AND database = current_database()")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                exists = rs.next();
                if (exists) {
                    confirmed = rs.getString(1);
                }
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading the replication slot " + slot, e);
        }
        if (!exists) {
            throw positionLost("the replication slot " + slot + " that holds the migration's changes no longer exists on the source");
        }
        long reach = PostgresPosition.resumeLimit(from);
        if (confirmed != null && LogSequenceNumber.valueOf(confirmed).asLong() > reach) {
            throw positionLost("the replication slot " + slot + " was confirmed up to " + confirmed + ", past the migration's checkpoint "
                    + LogSequenceNumber.valueOf(reach).asString() + ": it was made again or advanced since, and the changes in between "
                    + "are gone from it");
        }
    }

    private MigratorException positionLost(String message) {
        return new MigratorException(ErrorCode.SOURCE_POSITION_LOST, message, "start the migration over: `migrator complete "
                + plan.file() + "`, then `migrator run " + plan.file() + "`; never drop or advance a migration's slot, and give "
                + "each plan of a source its own name");
    }

    /**
     * Before the stream starts again: the publication must still carry every change of the plan's tables. Someone who dropped
     * it, removed a table or turned off a kind of change meanwhile made the source leave those changes out of the slot for good.
     */
    void requirePublication(List<TableDef> tables) {
        java.util.Set<io.migrator.core.schema.TableId> wanted = new java.util.TreeSet<>(tables.stream().map(TableDef::id).toList());
        Publication p;
        try (Connection c = pool.getConnection()) {
            p = publication(c, wanted);
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading the publication " + publication, e);
        }
        String problem = p == null ? "no longer exists" : p.problem(wanted, false);
        if (problem == null) {
            return;
        }
        String remedy;
        if (p == null) {
            // the slot decodes older WAL with the catalog of its time: a publication made again now is not the one it knew
            remedy = "the slot cannot go on without it: start the migration over (`migrator complete PLAN`, which drops the slot, then "
                    + "drop or empty the target tables, then `migrator run PLAN`)";
        } else if (problem.startsWith("lacks")) {
            remedy = "a table created after the migration started is not migrated: leave it out with tables.exclude and run again. "
                    + "If someone removed a plan table from the publication, add it back (ALTER PUBLICATION " + PostgresDialect.quote(publication)
                    + " ADD TABLE ...), run again, then `migrator validate PLAN --repair` to find and fix the rows changed meanwhile";
        } else if (problem.startsWith("filters")) {
            remedy = "restore its tables whole (ALTER PUBLICATION " + PostgresDialect.quote(publication) + " SET TABLE "
                    + String.join(", ", tables.stream().map(t -> PostgresDialect.quote(t.id())).toList()) + "), run `migrator run` "
                    + "again, then `migrator validate PLAN --repair` to find and fix the rows changed meanwhile";
        } else {
            remedy = "restore it (ALTER PUBLICATION " + PostgresDialect.quote(publication) + " SET (publish = 'insert, update, delete, "
                    + "truncate'" + (p.viaRootNeeded() ? ", publish_via_partition_root = true" : "") + ")), run `migrator run` again, then "
                    + "`migrator validate PLAN --repair` to find and fix the rows changed meanwhile";
        }
        throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the publication " + publication + " that feeds this migration's slot "
                + problem + ": changes the source made while it was so are not in the stream", remedy);
    }

    MigratorException publicationFailed(SQLException e) {
        if ("42501".equals(e.getSQLState())) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, "cannot create the publication " + publication + ": " + e.getMessage(),
                    "a publication FOR TABLE needs the owner of each table (or a superuser, rds_superuser on RDS): run migrator as the "
                            + "tables' owner, or create it yourself: CREATE PUBLICATION " + publication + " FOR TABLE ...", e);
        }
        return PostgresErrors.translate("creating the publication " + publication, e);
    }

    /** Drops the migration's slot once no backend holds it; false when there was none. */
    boolean dropSlot(Connection c) throws SQLException {
        // a worker killed a moment ago leaves its backend holding the slot until the server notices the closed socket
        long deadline = System.nanoTime() + java.time.Duration.ofSeconds(20).toNanos();
        while (true) {
            try (PreparedStatement ps = c.prepareStatement("SELECT active_pid FROM pg_replication_slots WHERE slot_name = ?")) {
                ps.setString(1, slot);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return false;
                    }
                    int pid = rs.getInt(1);
                    if (rs.wasNull()) {
                        break;
                    }
                    if (System.nanoTime() > deadline) {
                        throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the replication slot " + slot + " is in use by backend " + pid,
                                "a migrator worker of the plan '" + plan.name() + "' is streaming from it: stop that one first (SIGTERM)");
                    }
                }
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new MigratorException(ErrorCode.INTERNAL, "interrupted while waiting for the slot " + slot, "run again");
            }
        }
        PostgresCopy.dropSlot(c, slot);
        return true;
    }

    /** What of the slot and publication is on the server, for `migrator complete` to say what it leaves or drops. */
    void describeHeld(Connection c, List<String> held) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) "
                + "FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    held.add("replication slot " + slot + (rs.getString(1) == null ? "" : " (it keeps " + rs.getString(1) + " of WAL)"));
                }
            }
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM pg_publication WHERE pubname = ?")) {
            ps.setString(1, publication);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next() && rs.getInt(1) > 0) {
                    held.add("publication " + publication);
                }
            }
        }
    }
}
