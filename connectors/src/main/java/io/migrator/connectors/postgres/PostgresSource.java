package io.migrator.connectors.postgres;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariDataSource;
import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.TableFilter;
import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.spi.ChangeStream;
import io.migrator.core.spi.Role;
import io.migrator.core.spi.SourceLogStatus;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.state.Chunk;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyOut;
import org.postgresql.replication.LogSequenceNumber;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PostgreSQL source. {@link #beginSnapshot} creates the migration's publication (the plan's tables and the heartbeat
 * table, nothing else) and its logical replication slot with an exported snapshot; every chunk is then read with COPY
 * inside a transaction on that snapshot, and the stream starts at the slot's consistent point. Chunks are primary-key
 * ranges (arithmetic for one integer column, sampled boundaries otherwise) or, without a key, ctid page ranges.
 */
final class PostgresSource implements SourceSession {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresSource.class);
    static final String FORMAT_BINARY = "postgresql-copy-binary";
    static final String FORMAT_TEXT = "postgresql-copy-text";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Plan plan;
    private final HikariDataSource pool;
    private final String slot;
    private final String publication;
    private volatile PostgresCopy.Snapshot exported;
    private volatile boolean snapshotLost;
    private final Map<String, Boolean> binarySafe = new java.util.concurrent.ConcurrentHashMap<>();
    private final PostgresCutover cutover;

    PostgresSource(Plan plan) {
        this.plan = plan;
        this.pool = PostgresPools.open(plan.source(), Role.SOURCE, "migrator-source", plan.snapshot().parallelism() + 2,
                "SET standard_conforming_strings = on");
        this.slot = slotName(plan.name());
        this.publication = slot;
        this.cutover = new PostgresCutover(plan, pool, () -> tables(plan.tables()).stream().map(TableDef::id).toList());
    }

    /**
     * The slot and publication of a migration: {@code migrator_} and the plan name, within 63 bytes. Slot names allow only
     * {@code [a-z0-9_]}; a plan name with other characters (a dash) gets a short hash of itself appended, so "shop-a" and
     * "shop_a" never share a slot (one migration's start would drop the other's).
     */
    static String slotName(String plan) {
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

    @Override
    public List<TableDef> tables(TableFilter filter) {
        try (Connection c = pool.getConnection()) {
            return PostgresSchema.tables(c, filter);
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading the source tables", e);
        }
    }

    @Override
    public SourcePosition currentPosition() {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT pg_current_wal_lsn()::text")) {
            rs.next();
            return PostgresPosition.start(LogSequenceNumber.valueOf(rs.getString(1)));
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading the current WAL position", e);
        }
    }

    /**
     * The heartbeat table, the publication and the slot, made afresh: nothing has been copied under an older slot of
     * this migration (the copy's chunk plan is saved only after this returns), so an older slot or publication left by an
     * interrupted start is dropped, never reused.
     */
    @Override
    public SourcePosition beginSnapshot() {
        List<TableDef> tables = tables(plan.tables());
        try (Connection c = pool.getConnection()) {
            boolean heartbeat = PostgresHeartbeat.ensureTable(c, plan.name());
            if (dropSlot(c)) {
                LOG.warn("dropped the replication slot {} left by an interrupted start (no row was copied under it)", slot);
            }
            ensurePublication(c, tables, heartbeat);
        } catch (SQLException e) {
            throw publicationFailed(e);
        }
        try {
            exported = PostgresCopy.createSlot(plan.source(), plan.source().database(), slot);
        } catch (SQLException e) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "cannot create the replication slot " + slot + ": " + e.getMessage(),
                    "the migrator user needs the REPLICATION attribute (ALTER ROLE ... WITH REPLICATION), the source needs "
                            + "wal_level = logical and a free slot (max_replication_slots) and WAL sender (max_wal_senders)", e);
        }
        snapshotLost = false;
        LOG.info("slot {} created at {} with exported snapshot {}; publication {} holds {} tables", slot, exported.consistentPoint(),
                exported.name(), publication, tables.size());
        return PostgresPosition.start(LogSequenceNumber.valueOf(exported.consistentPoint()));
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
    public String prepareStream() {
        List<TableDef> tables = tables(plan.tables());
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
    @Override
    public List<String> releaseStream() {
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
     * Before the stream starts again: the publication must still carry every change of the plan's tables. Someone who dropped
     * it, removed a table or turned off a kind of change meanwhile made the source leave those changes out of the slot for good.
     */
    /**
     * The slot must still exist and must not have been confirmed past the checkpoint: the stream confirms only what the
     * target committed, so a slot further ahead was dropped and made again (by hand, or by another plan of the same name)
     * or advanced by hand, and the changes in between are gone. Without this check a new slot of the same name would
     * silently stream from its own start.
     */
    private void requireSlotAt(SourcePosition from) {
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

    private void requirePublication(List<TableDef> tables) {
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

    private MigratorException publicationFailed(SQLException e) {
        if ("42501".equals(e.getSQLState())) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, "cannot create the publication " + publication + ": " + e.getMessage(),
                    "a publication FOR TABLE needs the owner of each table (or a superuser, rds_superuser on RDS): run migrator as the "
                            + "tables' owner, or create it yourself: CREATE PUBLICATION " + publication + " FOR TABLE ...", e);
        }
        return PostgresErrors.translate("creating the publication " + publication, e);
    }

    /** Drops the migration's slot once no backend holds it; false when there was none. */
    private boolean dropSlot(Connection c) throws SQLException {
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

    @Override
    public void endSnapshot() {
        PostgresCopy.Snapshot s = exported;
        exported = null;
        if (s != null) {
            try {
                s.close();
            } catch (SQLException e) {
                LOG.debug("closing the snapshot connection", e);
            }
        }
    }

    @Override
    public boolean hasRows(TableDef table) {
        try {
            return io.migrator.connectors.jdbc.TableProbe.hasRows(pool, PostgresDialect.quote(table.id()));
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading source table " + table.id(), e);
        }
    }

    @Override
    public List<Chunk> planChunks(TableDef table, int chunkRows) {
        try (Connection c = pool.getConnection()) {
            return PostgresChunks.plan(c, table, chunkRows);
        } catch (SQLException e) {
            throw PostgresErrors.translate("planning the chunks of " + table.id(), e);
        }
    }

    @Override
    public Optional<String> rawFormat(TableDef table) {
        boolean binary = binarySafe.computeIfAbsent(table.id().toString(), k -> {
            try (Connection c = pool.getConnection()) {
                return PostgresCopy.binarySafe(c, table);
            } catch (SQLException e) {
                throw PostgresErrors.translate("reading the column types of " + table.id(), e);
            }
        });
        return Optional.of(binary ? FORMAT_BINARY : FORMAT_TEXT);
    }

    @Override
    public long copyChunk(TableDef table, Chunk chunk, String format, RawSink sink) {
        String list = table.writableColumns().stream().map(col -> PostgresDialect.quote(col.name())).collect(Collectors.joining(", "));
        String where = PostgresChunks.where(table, chunk);
        String select = "SELECT " + list + " FROM " + PostgresDialect.quote(table.id()) + (where.isEmpty() ? "" : " WHERE " + where);
        String copy = "COPY (" + select + ") TO STDOUT (FORMAT " + (FORMAT_BINARY.equals(format) ? "binary" : "text") + ")";
        try (Connection c = pool.getConnection()) {
            beginRead(c);
            CopyOut reader = c.unwrap(PGConnection.class).getCopyAPI().copyOut(copy);
            try {
                PostgresCopy.drain(c, reader, sink);
            } finally {
                if (reader.isActive()) {
                    try {
                        reader.cancelCopy();
                    } catch (SQLException ignored) {
                        // the connection broke; the error that got us here is reported
                    }
                }
            }
            long rows = reader.getHandledRowCount();
            c.commit();
            return rows;
        } catch (SQLException e) {
            throw PostgresErrors.translate("copying chunk " + chunk.number() + " of " + table.id(), e);
        }
    }

    /**
     * A read-only transaction on the exported snapshot while it lives; once it is gone (a restart, or the slot's connection
     * dropped) on the current state, which converges all the same: the stream replays every change since the slot's
     * consistent point over rows read at any later time (docs/architecture.md, "PostgreSQL copy after a restart").
     */
    private void beginRead(Connection c) throws SQLException {
        PostgresCopy.Snapshot s = exported;
        if (s != null && !snapshotLost) {
            try {
                PostgresCopy.importSnapshot(c, s.name());
                return;
            } catch (SQLException e) {
                c.rollback();
                snapshotLost = true;
                LOG.warn("the exported snapshot {} is gone ({}); the remaining chunks read the current state, which the stream "
                        + "from the slot's consistent point corrects", s.name(), e.getMessage());
            }
        }
        c.setAutoCommit(false);
        try (Statement st = c.createStatement()) {
            st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
        }
    }

    @Override
    public long readChunk(TableDef table, Chunk chunk, RowBatchSink sink) {
        throw new MigratorException(ErrorCode.NOT_AVAILABLE, "copying rows from PostgreSQL into " + plan.target().engine() + " is not available",
                "migrate PostgreSQL into PostgreSQL (RDS, Aurora PostgreSQL)");
    }

    /** Connections for reading the source's catalog (the stream's column judge reads added columns' definitions). */
    javax.sql.DataSource catalog() {
        return pool;
    }

    @Override
    public ChangeStream openStream(List<TableDef> tables, SourcePosition from, String streamId) {
        requirePublication(tables);
        requireSlotAt(from);
        return new PgOutputStream(plan, tables, from, slot, publication, this);
    }

    @Override
    public boolean reached(SourcePosition applied, SourcePosition goal) {
        return PostgresPosition.reach(applied) >= PostgresPosition.reach(goal);
    }

    @Override
    public Optional<SourceLogStatus> logStatus(SourcePosition applied, long neededSinceMillis) {
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT pg_current_wal_lsn()::text, "
                + "(SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = ?)")) {
            ps.setString(1, slot);
            ResultSet rs = ps.executeQuery();
            rs.next();
            LogSequenceNumber head = LogSequenceNumber.valueOf(rs.getString(1));
            long retained = rs.getLong(2);
            Long slotBytes = rs.wasNull() ? null : retained;
            long from = applied == null ? 0 : PostgresPosition.reach(applied);
            return Optional.of(new SourceLogStatus(Math.max(0, head.asLong() - from), null, head.asString(), slotBytes));
        } catch (SQLException e) {
            return Optional.empty();
        }
    }

    /**
     * The current rows for these keys as upserts with full images, or deletes for rows that are gone; keys are JSON
     * arrays of the key values as text.
     */
    @Override
    public List<RowChange> readRows(TableDef table, List<String> keys) {
        List<RowChange> out = new ArrayList<>();
        for (String key : keys) {
            out.add(readRow(table, decodeKey(key)));
        }
        return out;
    }

    /**
     * Waits (5 s at most, then a retriable failure) until transaction {@code xid} — 32 bits, as the WAL names it — is visible to a new snapshot on the
     * source. The walsender may send a commit a moment before the committing session has left the list of running
     * transactions, so a row read right then could still miss what that transaction wrote.
     */
    void awaitVisible(long xid) {
        String sql = "SELECT txid_visible_in_snapshot(CASE WHEN ?::bigint > (x.m & 4294967295) THEN (((x.m >> 32) - 1) << 32) | ?::bigint "
                + "ELSE ((x.m >> 32) << 32) | ?::bigint END, x.s) FROM (SELECT txid_current_snapshot() AS s, "
                + "txid_snapshot_xmax(txid_current_snapshot()) AS m) x";
        long deadline = System.nanoTime() + 5_000_000_000L;
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 1; i <= 3; i++) {
                ps.setLong(i, xid);
            }
            while (true) {
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getBoolean(1)) {
                        return;
                    }
                    if (System.nanoTime() > deadline) {
                        // read anyway, the row could be missed: the stream starts again from the checkpoint instead
                        throw new io.migrator.core.error.RetriableException(ErrorCode.CANNOT_CONNECT, "transaction " + xid + " was sent by the "
                                + "walsender but is not visible on the source after 5 s", "nothing to do: the stream starts again from the "
                                + "last checkpoint", null);
                    }
                }
                Thread.sleep(2);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (SQLException e) {
            throw PostgresErrors.translate("waiting for a transaction to be visible on the source", e);
        }
    }

    /** The current row with this key (values as text; bytea as bytes), or a delete when it is gone. */
    RowChange readRow(TableDef table, List<Object> keyValues) {
        List<ColumnDef> columns = table.writableColumns();
        StringBuilder sql = new StringBuilder("SELECT ");
        sql.append(columns.stream().map(col -> isBytea(col) ? PostgresDialect.quote(col.name()) : PostgresDialect.quote(col.name()) + "::text")
                .collect(Collectors.joining(", ")));
        sql.append(" FROM ").append(PostgresDialect.quote(table.id())).append(" WHERE ");
        for (int i = 0; i < table.key().size(); i++) {
            sql.append(i == 0 ? "" : " AND ").append(PostgresDialect.quote(table.key().get(i))).append(" = ?::")
                    .append(table.column(table.key().get(i)).type());
        }
        RowKey rowKey = new RowKey(table.id(), table.key(), keyValues);
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql.toString())) {
            for (int i = 0; i < keyValues.size(); i++) {
                Object v = keyValues.get(i);
                if (v instanceof byte[] b) {
                    ps.setBytes(i + 1, b);
                } else {
                    ps.setString(i + 1, v == null ? null : v.toString());
                }
            }
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return new RowChange.Delete(rowKey);
                }
                Map<String, Object> row = new LinkedHashMap<>();
                for (int i = 0; i < columns.size(); i++) {
                    row.put(columns.get(i).name(), isBytea(columns.get(i)) ? rs.getBytes(i + 1) : rs.getString(i + 1));
                }
                return new RowChange.Upsert(rowKey, row);
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading a row of " + table.id(), e);
        }
    }

    static boolean isBytea(ColumnDef column) {
        return column.type().equals("bytea");
    }

    static List<Object> decodeKey(String key) {
        try {
            return new ArrayList<>(List.of(JSON.readValue(key, Object[].class)));
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("not a key: " + key, e);
        }
    }

    /** Drops the slot (refusing while a worker streams from it), the publication and the heartbeat row. */
    @Override
    public java.util.Optional<io.migrator.core.state.MigrationId> migrationId(String migration) {
        try (Connection c = pool.getConnection()) {
            return PostgresMigrationIds.read(c, migration);
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading the migration's id on the source", e);
        }
    }

    @Override
    public boolean recordMigrationId(String migration, io.migrator.core.state.MigrationId id) {
        try (Connection c = pool.getConnection()) {
            return PostgresMigrationIds.record(c, migration, id);
        } catch (SQLException e) {
            throw PostgresErrors.translate("connecting to the source", e);
        }
    }

    @Override
    public List<String> release(String migration) {
        List<String> dropped = new ArrayList<>(releaseStream());
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            dropped.addAll(PostgresMigrationIds.forget(c, migration));
            if (PostgresHeartbeat.exists(c)) {
                try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + PostgresHeartbeat.TABLE_SQL + " WHERE migration = ?")) {
                    ps.setString(1, migration);
                    if (ps.executeUpdate() > 0) {
                        dropped.add("heartbeat row in " + PostgresHeartbeat.TABLE_SQL);
                    }
                }
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM " + PostgresHeartbeat.TABLE_SQL)) {
                    rs.next();
                    if (rs.getInt(1) == 0) {
                        st.execute("DROP TABLE " + PostgresHeartbeat.TABLE_SQL);
                        dropped.add("table " + PostgresHeartbeat.TABLE_SQL);
                    }
                }
                // an empty schema named like the migration role would still catch that role's unqualified names ("$user")
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        + "WHERE n.nspname = '" + PostgresHeartbeat.SCHEMA + "'")) {
                    rs.next();
                    if (rs.getInt(1) == 0) {
                        try {
                            st.execute("DROP SCHEMA IF EXISTS " + PostgresDialect.quote(PostgresHeartbeat.SCHEMA));
                            dropped.add("schema " + PostgresHeartbeat.SCHEMA);
                        } catch (SQLException e) {
                            if (!"2BP01".equals(e.getSQLState())) {
                                throw e;
                            }
                            LOG.warn("kept the schema {} on the source: it holds objects migrator did not create ({})", PostgresHeartbeat.SCHEMA,
                                    e.getMessage());
                        }
                    }
                }
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("releasing the slot and publication of " + migration, e);
        }
        return dropped;
    }

    @Override
    public java.util.OptionalLong clockMillis() {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")) {
            return rs.next() ? java.util.OptionalLong.of(rs.getLong(1)) : java.util.OptionalLong.empty();
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading the source's clock", e);
        }
    }

    @Override
    public List<String> held(String migration) {
        List<String> held = new ArrayList<>();
        try (Connection c = pool.getConnection()) {
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
            for (String table : List.of(PostgresHeartbeat.TABLE_SQL, PostgresDialect.quote(PostgresHeartbeat.SCHEMA) + ".migrations")) {
                if (!"t".equals(PostgresCutover.scalar(c, "SELECT to_regclass('" + table.replace("'", "''") + "') IS NOT NULL"))) {
                    continue;
                }
                try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM " + table + " WHERE migration = ?")) {
                    ps.setString(1, migration);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (rs.next() && rs.getInt(1) > 0) {
                            held.add((table.equals(PostgresHeartbeat.TABLE_SQL) ? "heartbeat row in " : "migration id in ") + table);
                        }
                    }
                }
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading what " + migration + " holds on the source", e);
        }
        return held;
    }

    // ---- the cutover (PostgresCutover): the revoke freeze, the fence, the lasting freeze ----

    @Override
    public void freezeWrites(java.time.Duration lockWait) {
        LOG.info("cutover freeze: {}", cutover.revoke(plan.cutover().applicationUsers(), lockWait));
    }

    @Override
    public void unfreezeWrites() {
        LOG.info("cutover unfreeze: {}", cutover.restore());
    }

    @Override
    public SourcePosition positionInFreeze() {
        return cutover.positionInFreeze();
    }

    @Override
    public List<io.migrator.core.spi.CutoverCheck> cutoverChecks(io.migrator.core.spi.CutoverCheck.Context context) {
        return cutover.checks(context);
    }

    @Override
    public String freezeLasting(List<String> applicationUsers) {
        if (applicationUsers.isEmpty()) {
            return "no cutover.applicationUsers: nothing stops a client that connects to the old source directly (warning)";
        }
        return cutover.revoke(applicationUsers, java.time.Duration.ofSeconds(5)) + " on the old source; migrator keeps its own";
    }

    @Override
    public String unfreezeLasting(List<String> applicationUsers) {
        return cutover.restore() + " on the old source";
    }

    private volatile PostgresChecksums checksums;

    @Override
    public io.migrator.core.spi.RowChecksums checksums() {
        if (checksums == null) {
            checksums = new PostgresChecksums(pool, "source");
        }
        return checksums;
    }

    @Override
    public void close() {
        endSnapshot();
        pool.close();
    }
}
