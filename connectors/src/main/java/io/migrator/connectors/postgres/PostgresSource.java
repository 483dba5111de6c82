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
    private final PostgresSlot slots;
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
        this.slots = new PostgresSlot(plan, pool);
        this.slot = slots.slot();
        this.publication = slots.publication();
        this.cutover = new PostgresCutover(plan, pool, () -> tables(plan.tables()).stream().map(TableDef::id).toList());
    }

    /** The slot and publication of a migration ({@link PostgresSlot#name}). */
    static String slotName(String plan) {
        return PostgresSlot.name(plan);
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
     * Before a cutover's freeze, on the server this direction will stream from after the switch: the heartbeat table, the
     * publication and the slot, made afresh ({@link PostgresSlot#prepareStream}). Returns what was made.
     */
    public String prepareStream() {
        return slots.prepareStream(tables(plan.tables()));
    }

    /** Cut over (or an aborted cutover's preparation): this migration's slot and publication dropped; what went. */
    @Override
    public List<String> releaseStream() {
        return slots.drop();
    }

    /**
     * The heartbeat table, the publication and the slot, made afresh: nothing has been copied under an older slot of
     * this migration (the copy's chunk plan is saved only after this returns), so an older slot or publication left by an
     * interrupted start is dropped, never reused.
     */
    @Override
    public SourcePosition beginSnapshot() {
        List<TableDef> tables = tables(plan.tables());
        slots.prepareForCopy(tables);
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
        slots.requirePublication(tables);
        slots.requireAt(from);
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
        List<String> dropped = new ArrayList<>(slots.drop());
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
            slots.describeHeld(c, held);
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
