package io.migrator.connectors.mysql;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariDataSource;
import io.migrator.connectors.debezium.DebeziumKeys;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.TableFilter;
import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.ChangeStream;
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
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A MySQL or MariaDB source: table discovery, chunked reads and the binlog position. */
final class MySqlSource implements SourceSession {
    private static final Logger LOG = LoggerFactory.getLogger(MySqlSource.class);
    private final MySqlWriteFreeze freeze;
    private final MySqlCutover cutover;
    private volatile boolean readOnlyFrozen;

    static final int FETCH_ROWS = 2_000;
    /** Tables with LOB columns fetch few rows at a time: a row may be 64 MB. */
    static final int FETCH_ROWS_WITH_LOBS = 16;
    static final int BATCH_ROWS = 1_000;
    /** A batch is flushed at this size, so memory stays bounded whatever the rows hold. */
    static final long BATCH_BYTES = 8L << 20;

    private final Plan plan;
    private final HikariDataSource pool;

    MySqlSource(Plan plan) {
        this.plan = plan;
        this.freeze = new MySqlWriteFreeze(plan);
        this.pool = MySqlPools.open(plan.source(), "migrator-source", plan.snapshot().parallelism() + 2,
                "SET SESSION time_zone = '+00:00'");
        this.cutover = new MySqlCutover(plan, pool);
    }

    @Override
    public List<TableDef> tables(TableFilter filter) {
        String db = plan.source().database();
        try (Connection c = pool.getConnection()) {
            Map<String, Long> names = new LinkedHashMap<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT TABLE_NAME, COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES "
                    + "WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME")) {
                ps.setString(1, db);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        if (filter.includes(db, rs.getString(1))) {
                            names.put(rs.getString(1), rs.getLong(2));
                        }
                    }
                }
            }
            List<TableDef> tables = new ArrayList<>();
            List<String> keyless = new ArrayList<>();
            Map<String, List<MySqlKeys.Index>> uniques = MySqlKeys.uniqueIndexes(c, db);
            for (var entry : names.entrySet()) {
                TableId id = new TableId(db, entry.getKey());
                List<ColumnDef> columns = columns(c, id);
                MySqlKeys.Choice key = MySqlKeys.choose(db, entry.getKey(), uniques.get(entry.getKey()), filter);
                if (key.problem() != null) {
                    keyless.add(key.problem());
                    continue;
                }
                tables.add(new TableDef(id, columns, key.columns(), createStatement(c, id), entry.getValue(), key.keyIndex()));
            }
            if (!keyless.isEmpty()) {
                throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "rows that no key identifies: " + String.join("; ", keyless),
                        "name a unique index over NOT NULL columns in the plan (tables.keys: {table: [columns]}), add one, or leave "
                                + "the tables out with tables.exclude");
            }
            return tables;
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading the source tables", e);
        }
    }

    private static List<ColumnDef> columns(Connection c, TableId id) throws SQLException {
        List<ColumnDef> columns = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, EXTRA FROM information_schema.COLUMNS "
                + "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION")) {
            ps.setString(1, id.schema());
            ps.setString(2, id.name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String extra = rs.getString(4) == null ? "" : rs.getString(4).toUpperCase(Locale.ROOT);
                    columns.add(new ColumnDef(rs.getString(1), rs.getString(2), "YES".equals(rs.getString(3)),
                            extra.contains("GENERATED") || extra.contains("VIRTUAL") || extra.contains("PERSISTENT")));
                }
            }
        }
        return columns;
    }

    private static String createStatement(Connection c, TableId id) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SHOW CREATE TABLE " + MySqlDialect.quote(id))) {
            rs.next();
            return rs.getString(2);
        }
    }

    @Override
    public SourcePosition currentPosition() {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            return BinlogPosition.read(st).orElseThrow(() -> new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the source has no binary "
                    + "log (SHOW MASTER STATUS is empty)", "start the source with log_bin, binlog_format=ROW and binlog_row_image=FULL"))
                    .toSourcePosition();
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading the source binlog position", e);
        }
    }

    /** MySQL 8.4 renamed SHOW MASTER STATUS to SHOW BINARY LOG STATUS. */
    private volatile MySqlChecksums checksums;

    @Override
    public io.migrator.core.spi.RowChecksums checksums() {
        if (checksums == null) {
            checksums = new MySqlChecksums(pool, t -> t, "source");
        }
        return checksums;
    }

    private static long fileNumber(String file) {
        int dot = file.lastIndexOf('.');
        try {
            return Long.parseLong(file.substring(dot + 1));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Binlog positions order by file number, then offset. */
    @Override
    public boolean reached(SourcePosition applied, SourcePosition goal) {
        BinlogPosition a = BinlogPosition.parse(applied);
        BinlogPosition g = BinlogPosition.parse(goal);
        int file = Long.compare(fileNumber(a.file()), fileNumber(g.file())); // numbers: binlog.1000000 follows binlog.999999
        return file > 0 || file == 0 && a.pos() >= g.pos();
    }

    @Override
    public List<io.migrator.core.change.RowChange> readRows(TableDef table, List<String> keys) {
        List<ColumnDef> columns = table.writableColumns();
        List<io.migrator.core.change.RowChange> changes = new ArrayList<>();
        MySqlDialect.Kind[] kinds = columns.stream().map(MySqlDialect::kind).toArray(MySqlDialect.Kind[]::new);
        for (int from = 0; from < keys.size(); from += 500) {
            List<String> part = keys.subList(from, Math.min(keys.size(), from + 500));
            List<Object> params = new ArrayList<>();
            String keySelect = table.key().stream().map(MySqlDialect::quote).collect(Collectors.joining(", "));
            String sql = "SELECT " + keySelect + ", " + columns.stream().map(MySqlDialect::selectExpression).collect(Collectors.joining(", "))
                    + " FROM " + MySqlDialect.quote(table.id()) + " WHERE " + MySqlChecksums.keysPredicate(table, part, params);
            java.util.Map<String, java.util.Map<String, Object>> found = new java.util.HashMap<>();
            try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
                KeyRange.bind(ps, params);
                try (ResultSet rs = ps.executeQuery()) {
                    int n = table.key().size();
                    while (rs.next()) {
                        java.util.Map<String, Object> row = new java.util.LinkedHashMap<>();
                        for (int i = 0; i < kinds.length; i++) {
                            row.put(columns.get(i).name(), switch (kinds[i]) {
                                case BYTES, GEOMETRY -> rs.getBytes(n + i + 1);
                                case FLOATING -> rs.getObject(n + i + 1);
                                case TEXT -> rs.getString(n + i + 1);
                            });
                        }
                        found.put(KeyRange.encode(rs, n), row);
                    }
                }
            } catch (SQLException e) {
                throw MySqlErrors.translate("reading rows of " + table.id() + " to repair", e);
            }
            for (String key : part) {
                io.migrator.core.change.RowKey rowKey = new io.migrator.core.change.RowKey(table.id(), table.key(), KeyRange.decode(key));
                java.util.Map<String, Object> row = found.get(key);
                changes.add(row == null ? new io.migrator.core.change.RowChange.Delete(rowKey)
                        : new io.migrator.core.change.RowChange.Upsert(rowKey, row));
            }
        }
        return changes;
    }

    private volatile long expireSeconds = -1;
    private volatile long expireReadAt;

    /**
     * Binlog bytes from the applied position to the head: the rest of the applied file, every file after it, and the
     * head file up to its position (SHOW BINARY LOGS sizes). The retention headroom is the purge age
     * (binlog_expire_logs_seconds, else expire_logs_days) minus the age of the oldest change still needed: a file is
     * purged only after its last write is that old, and the needed file was last written no earlier than that change.
     */
    @Override
    public java.util.Optional<io.migrator.core.spi.SourceLogStatus> logStatus(SourcePosition applied, long neededSinceMillis) {
        BinlogPosition at = BinlogPosition.parse(applied);
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            String headFile;
            long headPos;
            try (ResultSet rs = binlogStatus(st)) {
                if (!rs.next()) {
                    return java.util.Optional.empty();
                }
                headFile = rs.getString(1);
                headPos = rs.getLong(2);
            }
            long bytes = 0;
            boolean counting = false;
            boolean found = false;
            if (at.file().equals(headFile)) {
                bytes = Math.max(0, headPos - at.pos());
                found = true;
            } else {
                try (ResultSet rs = st.executeQuery("SHOW BINARY LOGS")) {
                    while (rs.next()) {
                        String file = rs.getString(1);
                        long size = rs.getLong(2);
                        if (file.equals(at.file())) {
                            found = true;
                            counting = true;
                            bytes += Math.max(0, size - at.pos());
                        } else if (file.equals(headFile)) {
                            bytes += headPos;
                            counting = false;
                        } else if (counting || !found && file.compareTo(at.file()) > 0 && file.compareTo(headFile) < 0) {
                            bytes += size;
                            counting = true;
                        }
                    }
                }
            }
            long now = System.currentTimeMillis();
            if (expireSeconds < 0 || now - expireReadAt > 60_000) {
                expireSeconds = expireSeconds(st);
                expireReadAt = now;
            }
            Double headroom = !found ? Double.valueOf(0) : expireSeconds <= 0 ? null
                    : Double.valueOf(Math.max(0, expireSeconds - (now - neededSinceMillis) / 1000.0));
            return java.util.Optional.of(new io.migrator.core.spi.SourceLogStatus(bytes, headroom,
                    BinlogPosition.of(headFile, headPos, null).toSourcePosition().text()));
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading the source binlog position", e);
        }
    }

    private static long expireSeconds(Statement st) throws SQLException {
        long seconds = 0;
        long days = 0;
        try (ResultSet rs = st.executeQuery("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('binlog_expire_logs_seconds', 'expire_logs_days')")) {
            while (rs.next()) {
                double value = Double.parseDouble(rs.getString(2));
                if (rs.getString(1).equalsIgnoreCase("binlog_expire_logs_seconds")) {
                    seconds = (long) value;
                } else {
                    days = (long) (value * 86_400);
                }
            }
        }
        return seconds > 0 ? seconds : days;
    }

    static ResultSet binlogStatus(Statement st) throws SQLException {
        try {
            return st.executeQuery("SHOW MASTER STATUS");
        } catch (SQLException e) {
            return st.executeQuery("SHOW BINARY LOG STATUS");
        }
    }

    @Override
    public boolean hasRows(TableDef table) {
        try {
            return io.migrator.connectors.jdbc.TableProbe.hasRows(pool, MySqlDialect.quote(table.id()));
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading source table " + table.id().name(), e);
        }
    }

    @Override
    public List<Chunk> planChunks(TableDef table, int chunkRows) {
        List<Chunk> chunks = new ArrayList<>();
        String keyList = table.key().stream().map(MySqlDialect::quote).collect(Collectors.joining(", "));
        String lower = null;
        try (Connection c = pool.getConnection()) {
            while (true) {
                List<Object> params = new ArrayList<>();
                String where = lower == null ? "" : " WHERE " + KeyRange.predicate(table, KeyRange.decode(lower), true, params);
                String sql = "SELECT " + keyList + " FROM " + MySqlDialect.quote(table.id()) + where + " ORDER BY " + keyList
                        + " LIMIT 1 OFFSET " + (chunkRows - 1);
                String upper = null;
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    KeyRange.bind(ps, params);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (rs.next()) {
                            upper = KeyRange.encode(rs, table.key().size());
                        }
                    }
                }
                chunks.add(new Chunk(chunks.size(), lower, upper));
                if (upper == null) {
                    return chunks;
                }
                lower = upper;
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("planning chunks of " + table.id(), e);
        }
    }

    @Override
    public long readChunk(TableDef table, Chunk chunk, RowBatchSink sink) {
        List<ColumnDef> columns = table.writableColumns();
        List<Object> params = new ArrayList<>();
        List<String> conditions = new ArrayList<>();
        if (chunk.lower() != null) {
            conditions.add(KeyRange.predicate(table, KeyRange.decode(chunk.lower()), true, params));
        }
        if (chunk.upper() != null) {
            conditions.add(KeyRange.predicate(table, KeyRange.decode(chunk.upper()), false, params));
        }
        String sql = "SELECT " + columns.stream().map(MySqlDialect::selectExpression).collect(Collectors.joining(", "))
                + " FROM " + MySqlDialect.quote(table.id()) + (conditions.isEmpty() ? "" : " WHERE " + String.join(" AND ", conditions));
        MySqlDialect.Kind[] kinds = columns.stream().map(MySqlDialect::kind).toArray(MySqlDialect.Kind[]::new);
        long count = 0;
        boolean lobs = columns.stream().anyMatch(col -> {
            String type = col.type().toLowerCase(Locale.ROOT);
            return type.contains("blob") || type.contains("text") || type.equals("json") || type.startsWith("geometry");
        });
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setFetchSize(lobs ? FETCH_ROWS_WITH_LOBS : FETCH_ROWS);
            KeyRange.bind(ps, params);
            List<Object[]> batch = new ArrayList<>();
            long bytes = 0;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Object[] row = new Object[kinds.length];
                    for (int i = 0; i < kinds.length; i++) {
                        Object value = switch (kinds[i]) {
                            case BYTES, GEOMETRY -> rs.getBytes(i + 1);
                            case FLOATING -> rs.getObject(i + 1);
                            case TEXT -> rs.getString(i + 1);
                        };
                        row[i] = value;
                        bytes += value instanceof byte[] b ? b.length : value instanceof String str ? 2L * str.length() : 8;
                    }
                    batch.add(row);
                    if (batch.size() == BATCH_ROWS || bytes >= BATCH_BYTES) {
                        sink.accept(batch);
                        count += batch.size();
                        batch = new ArrayList<>();
                        bytes = 0;
                    }
                }
            }
            if (!batch.isEmpty()) {
                sink.accept(batch);
                count += batch.size();
            }
            return count;
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading chunk " + chunk.number() + " of " + table.id(), e);
        }
    }

    @Override
    public ChangeStream openStream(List<TableDef> tables, SourcePosition from, String streamId) {
        BinlogPosition at = BinlogPosition.parse(from);
        requireRetained(at);
        List<String> unnameable = tables.stream().filter(t -> t.keyedByUniqueIndex() && DebeziumKeys.unnameable(t.id().schema(), t.id().name(), t.key()))
                .map(t -> t.id().name()).toList();
        if (!unnameable.isEmpty()) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "these tables are keyed by a unique index, and their table or key "
                    + "column names hold ; : or , which the binlog stream cannot be told: " + String.join(", ", unnameable),
                    "rename them, give them a primary key, or leave them out with tables.exclude");
        }
        return new MySqlChangeStream(plan, at, streamId, DebeziumKeys.messageKeyColumns(tables));
    }

    /**
     * The binlog file the stream resumes in must still be on the source: once purged, the changes after the checkpoint are
     * gone, and a stream started at the next file (or at a GTID the server resolves past the gap) would skip them.
     */
    private void requireRetained(BinlogPosition at) {
        if (at.offset().get("file") == null) {
            return; // a position without a file (GTIDs alone): the stream's own start reports a purged one
        }
        List<String> files = new ArrayList<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SHOW BINARY LOGS")) {
            while (rs.next()) {
                files.add(rs.getString(1));
            }
        } catch (SQLException e) {
            LOG.debug("cannot list the source's binlogs to check the checkpoint is still there: {}", e.getMessage());
            return; // without BINLOG MONITOR the stream's own start reports a purged position
        }
        if (!files.isEmpty() && !files.contains(at.file())) {
            throw new MigratorException(ErrorCode.SOURCE_POSITION_LOST, "the source no longer has the binlog file " + at.file()
                    + " that holds the migration's checkpoint (" + at.toSourcePosition().text() + "); its oldest is " + files.get(0)
                    + ": the changes in between were purged", "start the migration over: `migrator complete " + plan.file()
                    + "`, then `migrator run " + plan.file() + "`; keep binlogs longer (binlog_expire_logs_seconds) and watch "
                    + "lag.retentionHeadroomSeconds in `migrator status`");
        }
    }

    @Override
    public void freezeWrites(java.time.Duration lockWait) {
        if ("read-only".equals(plan.cutover().freeze())) {
            try (Connection c = pool.getConnection()) {
                cutover.freezeReadOnly(c, lockWait);
                readOnlyFrozen = true;
            } catch (SQLException e) {
                throw MySqlErrors.translate("freezing writes on the source (SET GLOBAL read_only = ON)", e);
            }
            return;
        }
        freeze.freeze(tables(plan.tables()), lockWait);
    }

    /** Lock-tables: the lock and its session go. Read-only: read_only OFF again (after a restart too: the runbook froze it). */
    @Override
    public void unfreezeWrites() {
        if ("read-only".equals(plan.cutover().freeze())) {
            try (Connection c = pool.getConnection()) {
                cutover.unfreezeReadOnly(c);
                readOnlyFrozen = false;
            } catch (SQLException e) {
                throw MySqlErrors.translate("unfreezing writes on the source (SET GLOBAL read_only = OFF)", e);
            }
            return;
        }
        freeze.unfreeze();
    }

    /**
     * Read after the freeze holds, so every write the source acknowledged to the plan's tables is at or before it (the
     * lock waited for their transactions); then a write of the fence marker (migrator.heartbeat, not frozen) puts an event
     * past it into the stream, so the target's applied position can pass it without waiting for the next heartbeat.
     */
    @Override
    public SourcePosition positionInFreeze() {
        // freeze: command is the user's program; that it stopped the writes is its promise (exit 0 once none can commit)
        if (!"command".equals(plan.cutover().freeze()) && !freeze.frozen() && !readOnlyFrozen) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the fence position is read inside a freeze, and writes are not frozen",
                    "freeze writes first (the cutover does)");
        }
        SourcePosition position = currentPosition();
        try (Connection c = pool.getConnection()) {
            cutover.writeMarker(c);
        } catch (SQLException e) {
            throw MySqlErrors.translate("writing the fence marker into migrator.heartbeat on the source", e);
        }
        return position;
    }

    @Override
    public List<io.migrator.core.spi.CutoverCheck> cutoverChecks(io.migrator.core.spi.CutoverCheck.Context context) {
        return cutover.sourceChecks(context);
    }

    @Override
    public String freezeLasting(List<String> applicationUsers) {
        String locked = cutover.lockLogins(applicationUsers, true);
        if ("lock-tables".equals(plan.cutover().freeze())) {
            freeze.markLasting();
            if (!applicationUsers.isEmpty()) {
                freeze.unfreeze(); // the logins are locked: the table locks go, the statements queued behind them ended first
                return locked + "; the table locks released";
            }
        }
        return locked;
    }

    @Override
    public String unfreezeLasting(List<String> applicationUsers) {
        List<String> done = new ArrayList<>();
        if ("read-only".equals(plan.cutover().freeze())) {
            unfreezeWrites();
            done.add("read_only OFF on the old source");
        }
        if (!applicationUsers.isEmpty()) {
            done.add(cutover.lockLogins(applicationUsers, false) + " on the old source");
        }
        return done.isEmpty() ? "nothing frozen on the old source to undo" : String.join("; ", done);
    }

    @Override
    public int threadsRunning() {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SHOW GLOBAL STATUS LIKE 'Threads_running'")) {
            return rs.next() ? rs.getInt(2) : -1;
        } catch (SQLException e) {
            return -1;
        }
    }

    /** Deletes the migration's heartbeat row (and the heartbeat table once empty); the binlog needs no release. */
    @Override
    public java.util.Optional<io.migrator.core.state.MigrationId> migrationId(String migration) {
        try (Connection c = pool.getConnection()) {
            return SourceMigrationIds.read(c, migration, plan.source().database());
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading the migration's id on the source", e);
        }
    }

    @Override
    public boolean recordMigrationId(String migration, io.migrator.core.state.MigrationId id) {
        try (Connection c = pool.getConnection()) {
            return SourceMigrationIds.record(c, migration, plan.source().database(), id);
        } catch (SQLException e) {
            throw MySqlErrors.translate("connecting to the source", e);
        }
    }

    @Override
    public java.util.OptionalLong clockMillis() {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)")) {
            return rs.next() ? java.util.OptionalLong.of(rs.getLong(1)) : java.util.OptionalLong.empty();
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading the source's clock", e);
        }
    }

    @Override
    public List<String> held(String migration) {
        List<String> held = new ArrayList<>();
        String heartbeat = MySqlDialect.quote(SourceHeartbeat.DATABASE) + "." + MySqlDialect.quote(SourceHeartbeat.TABLE);
        String ids = MySqlDialect.quote(SourceHeartbeat.DATABASE) + ".`migrations`";
        try (Connection c = pool.getConnection()) {
            for (String table : List.of(heartbeat, ids)) {
                try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM " + table + " WHERE migration = ?"
                        + (table.equals(ids) ? " AND source_database = ?" : ""))) {
                    ps.setString(1, migration);
                    if (table.equals(ids)) {
                        ps.setString(2, plan.source().database());
                    }
                    try (ResultSet rs = ps.executeQuery()) {
                        if (rs.next() && rs.getInt(1) > 0) {
                            held.add((table.equals(heartbeat) ? "heartbeat row in " : "migration id in ") + table);
                        }
                    }
                } catch (SQLException e) {
                    if (e.getErrorCode() != 1146 && e.getErrorCode() != 1049 && e.getErrorCode() != 1142) { // none recorded, or not readable
                        throw e;
                    }
                }
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading what " + migration + " holds on the source", e);
        }
        return held;
    }

    @Override
    public List<String> release(String migration) {
        List<String> dropped = new ArrayList<>();
        String table = MySqlDialect.quote(SourceHeartbeat.DATABASE) + "." + MySqlDialect.quote(SourceHeartbeat.TABLE);
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            dropped.addAll(SourceMigrationIds.forget(c, migration, plan.source().database()));
            try (ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" + SourceHeartbeat.DATABASE
                    + "' AND TABLE_NAME = '" + SourceHeartbeat.TABLE + "'")) {
                rs.next();
                if (rs.getInt(1) == 0) {
                    return dropped;
                }
            }
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + table + " WHERE migration = ?")) {
                ps.setString(1, migration);
                if (ps.executeUpdate() > 0) {
                    dropped.add("heartbeat row in " + table);
                }
            }
            try (ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM " + table)) {
                rs.next();
                if (rs.getInt(1) == 0) {
                    st.execute("DROP TABLE " + table);
                    dropped.add("table " + table);
                }
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("removing the heartbeat of " + migration, e);
        }
        return dropped;
    }

    @Override
    public void close() {
        freeze.unfreeze(); // never leave the source frozen behind a closed session
        pool.close();
    }

    static ObjectMapper json() {
        return new ObjectMapper();
    }
}
