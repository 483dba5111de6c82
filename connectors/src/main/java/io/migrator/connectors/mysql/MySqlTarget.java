package io.migrator.connectors.mysql;

import com.zaxxer.hikari.HikariDataSource;
import io.migrator.connectors.jdbc.WorkerClaim;
import io.migrator.core.change.RowChange;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.spi.WorkerLease;
import io.migrator.core.state.Chunk;
import io.migrator.core.state.ChunkProgress;
import io.migrator.core.state.MigrationState;
import io.migrator.core.state.WorkerRecord;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A MySQL or MariaDB target. Bookkeeping lives in the {@code migrator} schema: {@code state} (phase and
 * start position), {@code chunks} (plan and done marks, each committed with the chunk's rows) and
 * {@code checkpoint} (the applied position, committed with the changes it covers).
 */
final class MySqlTarget implements TargetSession {
    static final String BOOKKEEPING = "migrator";
    private static final Logger LOG = LoggerFactory.getLogger(MySqlTarget.class);

    private final Plan plan;
    private final HikariDataSource pool;
    private final MySqlChangeWriter changeWriter = new MySqlChangeWriter(this::onTarget);
    private final io.migrator.connectors.jdbc.RowPrefetcher prefetcher;
    private final io.migrator.connectors.jdbc.Bookkeeping bookkeeping;
    private final MySqlTargetCutover cutover;
    private final MySqlCascades cascades;

    MySqlTarget(Plan plan) {
        this.plan = plan;
        // UTC: TIMESTAMP values travel as UTC text. Foreign keys were checked on the source; rows arrive in key order,
        // not dependency order. STRICT_ALL_TABLES: a value the target cannot hold is an error, never silently cut.
        // NO_AUTO_VALUE_ON_ZERO: an id 0 copied from the source stays 0. Zero dates stay allowed (no NO_ZERO_DATE).
        this.pool = MySqlPools.open(plan.target(), "migrator-target", Math.max(plan.snapshot().parallelism(), MySqlPrefetcher.LANES) + 2,
                "SET SESSION time_zone = '+00:00', SESSION foreign_key_checks = 0, "
                        + "SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'",
                plan.target().engine() == Engine.MARIADB);
        this.prefetcher = new io.migrator.connectors.jdbc.RowPrefetcher(pool, MySqlPrefetcher.LANES, new MySqlPrefetcher(this::onTarget));
        this.cutover = new MySqlTargetCutover(plan, pool);
        this.cascades = new MySqlCascades(plan, pool);
        WorkerClaim.Dialect dialect = new WorkerClaim.Dialect() {
            @Override
            public Connection openSession() throws SQLException {
                return MySqlFamilyConnector.connect(plan.target(), Duration.ofSeconds(30));
            }

            @Override
            public String tryLock() {
                return "SELECT GET_LOCK(?, 0)";
            }

            @Override
            public String lockHolder() {
                return "SELECT IS_USED_LOCK(?)";
            }

            @Override
            public String upsertWorker() {
                return "INSERT INTO migrator.worker (migration, address, host, pid, started_at, token) VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE "
                        + "KEY UPDATE address = VALUES(address), host = VALUES(host), pid = VALUES(pid), started_at = VALUES(started_at), "
                        + "token = VALUES(token)";
            }

            @Override
            public String sessionId() {
                return "SELECT CONNECTION_ID()";
            }

            @Override
            public String fenceToken() {
                return "SELECT token FROM migrator.worker WHERE migration = ? LOCK IN SHARE MODE";
            }

            @Override
            public String endSession(String holder) {
                return "KILL " + Long.parseLong(holder);
            }

            @Override
            public String endSessionAdvice(String holder) {
                return endSession(holder) + " (on RDS and Aurora: CALL mysql.rds_kill(" + holder + "))";
            }

            @Override
            public String upsertState() {
                return "INSERT INTO migrator.state (migration, phase, start_position, detail, updated_at) VALUES (?, ?, ?, ?, ?) "
                        + "ON DUPLICATE KEY UPDATE phase = VALUES(phase), start_position = COALESCE(VALUES(start_position), start_position), "
                        + "detail = VALUES(detail), updated_at = VALUES(updated_at)";
            }

            @Override
            public boolean missing(SQLException e) {
                return noBookkeeping(e);
            }

            @Override
            public io.migrator.core.error.MigratorException translate(String doing, SQLException e) {
                return MySqlErrors.translate(doing, e);
            }
        };
        this.bookkeeping = new io.migrator.connectors.jdbc.Bookkeeping(pool, plan.name(), dialect);
    }

    private TableId onTarget(TableId source) {
        return new TableId(plan.target().database(), source.name());
    }

    @Override
    public void prepare() {
        String b = MySqlDialect.quote(BOOKKEEPING);
        execute("CREATE DATABASE IF NOT EXISTS " + b,
                "CREATE DATABASE IF NOT EXISTS " + MySqlDialect.quote(plan.target().database()),
                "CREATE TABLE IF NOT EXISTS " + b + ".state (migration VARCHAR(64) PRIMARY KEY, phase VARCHAR(20) NOT NULL, "
                        + "start_position TEXT, detail TEXT, updated_at DATETIME(6) NOT NULL) ENGINE=InnoDB",
                "CREATE TABLE IF NOT EXISTS " + b + ".journal (id BIGINT AUTO_INCREMENT PRIMARY KEY, migration VARCHAR(64) NOT NULL, "
                        + "phase VARCHAR(20) NOT NULL, detail TEXT, at DATETIME(6) NOT NULL) ENGINE=InnoDB",
                "CREATE TABLE IF NOT EXISTS " + b + ".chunks (migration VARCHAR(64) NOT NULL, table_name VARCHAR(64) NOT NULL, "
                        + "chunk INT NOT NULL, lower_bound MEDIUMTEXT, upper_bound MEDIUMTEXT, done BOOLEAN NOT NULL DEFAULT FALSE, "
                        + "rows_copied BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (migration, table_name, chunk)) ENGINE=InnoDB",
                "CREATE TABLE IF NOT EXISTS " + b + ".checkpoint (migration VARCHAR(64) PRIMARY KEY, position TEXT NOT NULL, "
                        + "events BIGINT NOT NULL, updated_at DATETIME(6) NOT NULL) ENGINE=InnoDB",
                "CREATE TABLE IF NOT EXISTS " + b + ".worker (migration VARCHAR(64) PRIMARY KEY, address VARCHAR(300), host VARCHAR(255), "
                        + "pid BIGINT, started_at VARCHAR(40) NOT NULL, token VARCHAR(40)) ENGINE=InnoDB",
                "CREATE TABLE IF NOT EXISTS " + b + ".identity (migration VARCHAR(64) PRIMARY KEY, id CHAR(36) NOT NULL, "
                        + "source VARCHAR(512) NOT NULL, source_keeps_id BOOLEAN NOT NULL, created_at DATETIME(6) NOT NULL) ENGINE=InnoDB",
                "CREATE TABLE IF NOT EXISTS " + b + ".validation (id BIGINT AUTO_INCREMENT PRIMARY KEY, migration VARCHAR(64) NOT NULL, "
                        + "state VARCHAR(20) NOT NULL, started_at VARCHAR(40) NOT NULL, finished_at VARCHAR(40) NOT NULL, rows_compared BIGINT NOT NULL, "
                        + "mismatches BIGINT NOT NULL, parity_percent DOUBLE, report LONGTEXT NOT NULL, KEY by_migration (migration, id)) ENGINE=InnoDB");
        // migrator.worker as the first build with it made it had no token column (MySQL has no ADD COLUMN IF NOT EXISTS)
        try (Connection c = pool.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM "
                + "information_schema.columns WHERE table_schema = 'migrator' AND table_name = 'worker' AND column_name = 'token'")) {
            rs.next();
            if (rs.getLong(1) == 0) {
                try {
                    st.execute("ALTER TABLE " + b + ".worker ADD COLUMN token VARCHAR(40)");
                } catch (SQLException e) {
                    if (e.getErrorCode() != 1060) { // 1060 duplicate column: another worker added it meanwhile
                        throw e;
                    }
                }
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("preparing the bookkeeping schema '" + BOOKKEEPING + "' on the target", e);
        }
    }

    @Override
    public WorkerLease claim(WorkerRecord self, Consumer<MigratorException> lost) {
        return bookkeeping.claim(self, lost);
    }

    @Override
    public Optional<WorkerRecord> registeredWorker() {
        return bookkeeping.registeredWorker();
    }

    @Override
    public Optional<MigrationState> loadState() {
        return bookkeeping.loadState();
    }

    @Override
    public void saveState(MigrationState state) {
        bookkeeping.saveState(state);
    }

    @Override
    public List<TableId> missingTables(List<TableDef> sourceTables) {
        List<TableId> missing = new ArrayList<>();
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?")) {
            for (TableDef table : sourceTables) {
                ps.setString(1, plan.target().database());
                ps.setString(2, table.id().name());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getInt(1) == 0) {
                        missing.add(table.id());
                    }
                }
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("listing target tables", e);
        }
        return missing;
    }

    @Override
    public void createTable(TableDef table) {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute("USE " + MySqlDialect.quote(plan.target().database()));
            st.execute(SecondaryIndexes.withoutDeferred(table.createStatement()));
        } catch (SQLException e) {
            throw MySqlErrors.translate("creating target table " + table.id().name(), e);
        }
    }

    @Override
    public void buildDeferredIndexes(TableDef table) {
        List<String> deferred = SecondaryIndexes.deferred(table.createStatement());
        if (deferred.isEmpty()) {
            return;
        }
        try (Connection c = pool.getConnection()) {
            c.setNetworkTimeout(Runnable::run, 0); // an index build may take hours: network.readTimeout is lifted for it
            for (int attempt = 1; ; attempt++) {
                List<String> existing = indexNames(c, table);
                List<String> missing = deferred.stream().filter(d -> !existing.contains(SecondaryIndexes.name(d))).toList();
                if (missing.isEmpty()) {
                    return;
                }
                try (Statement st = c.createStatement()) {
                    st.execute("ALTER TABLE " + MySqlDialect.quote(onTarget(table.id())) + " "
                            + missing.stream().map(d -> "ADD " + d).collect(java.util.stream.Collectors.joining(", ")));
                    return;
                } catch (SQLException e) {
                    // 1061: an index of that name exists after all. An earlier attempt's ALTER whose connection was cut goes on
                    // in the server and finishes while this one waits for the table behind it: read what exists again
                    if (e.getErrorCode() != 1061 || attempt >= 3) {
                        throw e;
                    }
                    LOG.info("an earlier attempt's index build on {} finished meanwhile ({}); adding only what is still missing",
                            table.id(), e.getMessage());
                }
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("building the secondary indexes of " + table.id().name(), e);
        }
    }

    private List<String> indexNames(Connection c, TableDef table) throws SQLException {
        List<String> existing = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS "
                + "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?")) {
            ps.setString(1, plan.target().database());
            ps.setString(2, table.id().name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    existing.add(rs.getString(1));
                }
            }
        }
        return existing;
    }

    @Override
    public boolean hasRows(TableDef table) {
        try {
            return io.migrator.connectors.jdbc.TableProbe.hasRows(pool, MySqlDialect.quote(onTarget(table.id())));
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading target table " + table.id().name(), e);
        }
    }

    @Override
    public List<String> differences(TableDef source) {
        Map<String, String> targetColumns = new LinkedHashMap<>();
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT COLUMN_NAME, COLUMN_TYPE FROM "
                + "information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION")) {
            ps.setString(1, plan.target().database());
            ps.setString(2, source.id().name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    targetColumns.put(rs.getString(1), rs.getString(2));
                }
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading target table " + source.id().name(), e);
        }
        List<String> differences = new ArrayList<>(io.migrator.connectors.jdbc.ColumnDifferences.of(source.columns(), targetColumns,
                String::equalsIgnoreCase));
        if (!targetColumns.isEmpty() && source.createStatement() != null) {
            java.util.Optional<String> sourceKey = MySqlDdlJudge.primaryKey(source.createStatement());
            java.util.Optional<String> targetKey = createStatement(source.id().name()).flatMap(MySqlDdlJudge::primaryKey);
            if (!sourceKey.equals(targetKey)) {
                differences.add(source.id().name() + " has primary key " + sourceKey.orElse("none") + " on the source, " + targetKey.orElse("none")
                        + " on the target");
            }
        }
        return differences;
    }

    @Override
    public List<ChunkProgress> chunks(TableId table) {
        List<ChunkProgress> chunks = new ArrayList<>();
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT chunk, lower_bound, upper_bound, done, "
                + "rows_copied FROM migrator.chunks WHERE migration = ? AND table_name = ? ORDER BY chunk")) {
            ps.setString(1, plan.name());
            ps.setString(2, table.name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    chunks.add(new ChunkProgress(table, new Chunk(rs.getInt(1), rs.getString(2), rs.getString(3)), rs.getBoolean(4), rs.getLong(5)));
                }
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading the chunk plan of " + table, e);
        }
        return chunks;
    }

    @Override
    public void saveChunkPlan(TableId table, List<Chunk> chunks) {
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO migrator.chunks (migration, table_name, chunk, lower_bound, upper_bound) "
                    + "VALUES (?, ?, ?, ?, ?)")) {
                for (Chunk chunk : chunks) {
                    ps.setString(1, plan.name());
                    ps.setString(2, table.name());
                    ps.setInt(3, chunk.number());
                    ps.setString(4, chunk.lower());
                    ps.setString(5, chunk.upper());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            c.commit();
        } catch (SQLException e) {
            throw MySqlErrors.translate("saving the chunk plan of " + table, e);
        }
    }

    @Override
    public ChunkWriter beginChunk(TableDef table, Chunk chunk) {
        Runnable loadTurn = null;
        try {
            loadTurn = loadTurn(onTarget(table.id()));
            MySqlChunkWriter writer = new MySqlChunkWriter(pool.getConnection(), plan.name(), table, onTarget(table.id()), chunk, loadTurn);
            writer.fence = bookkeeping;
            loadTurn = null; // the writer ends the turn when it closes
            return plan.snapshot().targetBinlog() ? writer : writer.unlogged();
        } catch (SQLException e) {
            if (loadTurn != null) {
                loadTurn.run();
            }
            throw MySqlErrors.translate("opening a target connection", e);
        }
    }

    private volatile Boolean loadData;
    private volatile boolean autoIncTableLock;
    private final LoadTurns loadTurns = new LoadTurns();
    /** Per table: whether it has an AUTO_INCREMENT column (looked up once). */
    private final Map<TableId, Boolean> autoIncrement = new ConcurrentHashMap<>();

    /**
     * Whether the copy streams rows with LOAD DATA LOCAL INFILE: on MariaDB targets whose {@code local_infile} is ON (its
     * default). Elsewhere it uses multi-row REPLACE: MySQL targets (where {@code local_infile} is OFF by default and the
     * path is not verified here) and MariaDB targets with the setting off.
     */
    private boolean loadData() throws SQLException {
        if (loadData == null) {
            boolean on = false;
            if (plan.target().engine() == Engine.MARIADB) {
                try (Connection c = pool.getConnection(); Statement st = c.createStatement();
                     ResultSet rs = st.executeQuery("SELECT @@local_infile, @@innodb_autoinc_lock_mode")) {
                    on = rs.next() && rs.getInt(1) == 1;
                    autoIncTableLock = rs.getInt(2) != 2;
                }
                if (!on) {
                    LOG.info("the target's local_infile is OFF: the copy uses multi-row REPLACE statements "
                            + "(SET GLOBAL local_infile = ON lets it stream rows with LOAD DATA LOCAL INFILE, which costs the target less CPU)");
                }
            }
            loadData = on;
        }
        return loadData;
    }

    /** A chunk of {@code table} may go by LOAD DATA: the action that ends its turn ({@link LoadTurns}); null: REPLACE. */
    private Runnable loadTurn(TableId table) throws SQLException {
        if (!loadData()) {
            return null;
        }
        Boolean hasAutoIncrement = autoIncrement.get(table);
        if (hasAutoIncrement == null && autoIncTableLock) {
            try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                    "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND EXTRA LIKE '%auto_increment%'")) {
                ps.setString(1, table.schema());
                ps.setString(2, table.name());
                try (ResultSet rs = ps.executeQuery()) {
                    hasAutoIncrement = rs.next() && rs.getInt(1) > 0;
                }
            }
            autoIncrement.put(table, hasAutoIncrement);
        }
        return loadTurns.take(table, autoIncTableLock && hasAutoIncrement);
    }

    /** ER_NO_SUCH_TABLE or ER_BAD_DB_ERROR on the bookkeeping schema: nothing was ever recorded here. */
    private static boolean noBookkeeping(SQLException e) {
        return e.getErrorCode() == 1146 || e.getErrorCode() == 1049;
    }

    private volatile MySqlChecksums checksums;

    @Override
    public io.migrator.core.spi.RowChecksums checksums() {
        if (checksums == null) {
            checksums = new MySqlChecksums(pool, this::onTarget, "target");
        }
        return checksums;
    }

    @Override
    public void saveValidation(io.migrator.core.state.ValidationRecord record) {
        prepare();
        bookkeeping.saveValidation(record);
    }

    @Override
    public Optional<io.migrator.core.state.MigrationId> migrationId() {
        return bookkeeping.migrationId();
    }

    @Override
    public void recordMigrationId(io.migrator.core.state.MigrationId id) {
        bookkeeping.recordMigrationId(id);
    }

    @Override
    public Optional<io.migrator.core.state.ValidationRecord> lastValidation() {
        return bookkeeping.lastValidation();
    }

    @Override
    public List<MigrationState> journal() {
        return bookkeeping.journal();
    }

    @Override
    public List<ChunkProgress> allChunks() {
        List<ChunkProgress> chunks = new ArrayList<>();
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT table_name, chunk, done, rows_copied "
                + "FROM migrator.chunks WHERE migration = ? ORDER BY table_name, chunk")) {
            ps.setString(1, plan.name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    // bounds are not needed for progress; leave them out of the read
                    chunks.add(new ChunkProgress(new TableId(plan.source().database(), rs.getString(1)), new Chunk(rs.getInt(2), null, null),
                            rs.getBoolean(3), rs.getLong(4)));
                }
            }
        } catch (SQLException e) {
            if (noBookkeeping(e)) {
                return List.of();
            }
            throw MySqlErrors.translate("reading the chunk plans", e);
        }
        return chunks;
    }

    @Override
    public long appliedEvents() {
        return bookkeeping.appliedEvents();
    }

    @Override
    public Optional<SourcePosition> checkpoint() {
        return bookkeeping.checkpoint();
    }

    @Override
    public void prefetch(List<RowChange> changes) {
        // Only the batch's first step: the applier reads each later step ahead while the one before it executes. Reading
        // the whole batch this early would put it behind the batch being applied in InnoDB's LRU list, whose old end
        // holds 3/8 of the pool; pages evicted before the applier reaches them are read again, one at a time.
        if (prefetcher.worthIt(changes.size())) {
            List<List<RowChange>> steps = MySqlChangeWriter.steps(changes);
            if (!steps.isEmpty()) {
                prefetcher.prefetch(steps.get(0));
            }
        }
    }

    @Override
    public void apply(List<RowChange> changes, SourcePosition position, long eventCount) {
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try {
                bookkeeping.fence(c); // first: a worker that took the migration over waits for this transaction, and refuses the next
                changeWriter.write(c, changes, prefetcher.worthIt(changes.size()) ? prefetcher::readAhead : next -> { });
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO migrator.checkpoint (migration, position, events, updated_at) "
                        + "VALUES (?, ?, ?, NOW(6)) ON DUPLICATE KEY UPDATE position = VALUES(position), events = events + VALUES(events), "
                        + "updated_at = VALUES(updated_at)")) {
                    ps.setString(1, plan.name());
                    ps.setString(2, position.text());
                    ps.setLong(3, eventCount);
                    ps.executeUpdate();
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                io.migrator.connectors.jdbc.JdbcErrors.rollbackAfter(c, e);
                throw e;
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("applying " + changes.size() + " changes", e);
        }
    }

    @Override
    public List<String> forget() {
        io.migrator.connectors.jdbc.Bookkeeping.Forgotten forgotten = bookkeeping.forget();
        List<String> removed = new ArrayList<>(forgotten.removed());
        if (!forgotten.othersRemain()) {
            // the database may also hold what this server keeps as another migration's source (its heartbeat, migration ids,
            // a reverse direction's): only the bookkeeping tables go, and the database once nothing else is left in it
            for (String table : io.migrator.connectors.jdbc.Bookkeeping.TABLES) {
                execute("DROP TABLE IF EXISTS " + MySqlDialect.quote(BOOKKEEPING) + "." + MySqlDialect.quote(table));
            }
            try (Connection c = pool.getConnection(); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" + BOOKKEEPING + "'")) {
                rs.next();
                if (rs.getInt(1) == 0) {
                    st.execute("DROP DATABASE IF EXISTS " + MySqlDialect.quote(BOOKKEEPING));
                    removed.add("database migrator (no other migration uses it)");
                } else {
                    removed.add("the bookkeeping tables of database migrator (it keeps " + rs.getInt(1) + " other table(s))");
                }
            } catch (SQLException e) {
                throw MySqlErrors.translate("dropping the bookkeeping database", e);
            }
        }
        return removed;
    }

    @Override
    public void applyDdl(String statement) {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute("USE " + MySqlDialect.quote(plan.target().database()));
            // DDL commits implicitly, so the fence is checked just before it rather than inside its transaction
            c.setAutoCommit(false);
            try {
                bookkeeping.fence(c);
            } finally {
                c.rollback();
                c.setAutoCommit(true);
            }
            st.execute(retarget(statement));
            changeWriter.forgetAll();
        } catch (SQLException e) {
            if (e.getErrorCode() == 1060 || e.getErrorCode() == 1061 || e.getErrorCode() == 1050) {
                return; // column, index or table already there: the statement was applied before a restart
            }
            if (e.getErrorCode() == 1062 && statement.contains(" ADD UNIQUE KEY ")) {
                // an index the source has now, looked for while the stream is still behind the rows it removed to build it
                LOG.warn("not added yet (the target still holds rows the source removed before adding it; the next DDL of the table "
                        + "tries again): {}", statement);
                return;
            }
            throw MySqlErrors.translate("applying source DDL on the target", e);
        }
    }

    @Override
    public java.util.Optional<io.migrator.core.spi.DdlJudge> ddlJudge(io.migrator.core.spi.SourceSession source,
                                                                     io.migrator.core.plan.TableFilter tables, String sourceDatabase) {
        return java.util.Optional.of(new MySqlDdlJudge(plan.source().engine(), sourceDatabase, tables, () -> planTablesOnTarget(tables, sourceDatabase),
                this::createStatement, () -> source.tables(tables)));
    }

    /** SHOW CREATE TABLE of each table the plan moves that the target has, by name. */
    private java.util.Map<String, String> planTablesOnTarget(io.migrator.core.plan.TableFilter tables, String sourceDatabase) {
        java.util.Map<String, String> found = new java.util.LinkedHashMap<>();
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT TABLE_NAME FROM information_schema.TABLES "
                + "WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME")) {
            ps.setString(1, plan.target().database());
            List<String> names = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (tables.includes(sourceDatabase, rs.getString(1))) {
                        names.add(rs.getString(1));
                    }
                }
            }
            for (String name : names) {
                createStatement(c, name).ifPresent(create -> found.put(name, create));
            }
            return found;
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading the target's table definitions", e);
        }
    }

    /** The target table's SHOW CREATE TABLE; empty when the target has no such table. */
    java.util.Optional<String> createStatement(String table) {
        try (Connection c = pool.getConnection()) {
            return createStatement(c, table);
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading the target's definition of " + table, e);
        }
    }

    private java.util.Optional<String> createStatement(Connection c, String table) throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SHOW CREATE TABLE " + MySqlDialect.quote(plan.target().database()) + "." + MySqlDialect.quote(table))) {
            return rs.next() ? java.util.Optional.of(rs.getString(2)) : java.util.Optional.empty();
        } catch (SQLException e) {
            if (e.getErrorCode() == 1146) { // no such table
                return java.util.Optional.empty();
            }
            throw e;
        }
    }

    @Override
    public List<String> syncSequences() {
        return cutover.syncAutoIncrements();
    }

    @Override
    public List<io.migrator.core.spi.CutoverCheck> cutoverChecks(io.migrator.core.spi.CutoverCheck.Context context) {
        cascades.prepare(); // before the freeze: the cascades step inside it then reads no catalog
        return cutover.checks(context);
    }

    @Override
    public String redoCascades(Map<TableId, List<io.migrator.core.change.RowKey>> changed) {
        return cascades.redo(changed);
    }

    @Override
    public Optional<String> reversePosition() {
        return cutover.reversePosition();
    }

    @Override
    public String openForWrites() {
        return cutover.open();
    }

    @Override
    public String admitApplication() {
        return cutover.admit();
    }

    @Override
    public String closeForWrites() {
        return cutover.close();
    }

    @Override
    public void close() {
        prefetcher.close();
        pool.close();
    }

    /** Source DDL may name the source schema; on the target it means the target schema. */
    String retarget(String statement) {
        String from = plan.source().database();
        String to = plan.target().database();
        if (from.equals(to)) {
            return statement;
        }
        return statement.replace(MySqlDialect.quote(from) + ".", MySqlDialect.quote(to) + ".")
                .replaceAll("(?i)(?<=\\s)" + java.util.regex.Pattern.quote(from) + "\\.(?=[`\\w])", java.util.regex.Matcher.quoteReplacement(MySqlDialect.quote(to) + "."));
    }

    private void execute(String... statements) {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            for (String sql : statements) {
                st.execute(sql);
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("preparing the bookkeeping schema '" + BOOKKEEPING + "' on the target", e);
        }
    }

    static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }

    static String joinColumns(List<ColumnDef> columns) {
        return columns.stream().map(col -> MySqlDialect.quote(col.name())).collect(Collectors.joining(", "));
    }
}
