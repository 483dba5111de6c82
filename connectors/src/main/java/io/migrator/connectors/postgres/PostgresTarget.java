package io.migrator.connectors.postgres;

import com.zaxxer.hikari.HikariDataSource;
import io.migrator.connectors.jdbc.WorkerClaim;
import io.migrator.core.change.RowChange;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.Role;
import io.migrator.core.spi.SourceSession;
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
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PostgreSQL target (RDS, Aurora PostgreSQL). Bookkeeping lives in the {@code migrator} schema of the target database:
 * {@code state} and {@code journal}, {@code chunks} (each done mark committed with the chunk's rows), {@code checkpoint}
 * (committed with the changes it covers) and {@code validation}. Tables are created from the source's catalog: types,
 * sequences and the table with its primary key first; unique, check and exclusion constraints, secondary indexes and
 * foreign keys after the copy.
 */
final class PostgresTarget implements TargetSession {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresTarget.class);
    static final String BOOKKEEPING = "migrator";
    /** The first key of migrator's advisory locks ('migr'); the second is the hash of the migration's lock name. */
    static final int LOCK_CLASS = 0x6D696772;

    private final Plan plan;
    private final HikariDataSource pool;
    private final PostgresChangeWriter writer;
    private final PostgresOrigin origin;
    private final io.migrator.connectors.jdbc.Bookkeeping bookkeeping;
    private final PostgresApplier applier;
    private final PostgresSequenceSync sequences;

    PostgresTarget(Plan plan) {
        this.plan = plan;
        this.pool = PostgresPools.open(plan.target(), Role.TARGET, "migrator-target", plan.snapshot().parallelism() + 2,
                "SET standard_conforming_strings = on");
        this.writer = new PostgresChangeWriter();
        this.origin = new PostgresOrigin(plan.name());
        WorkerClaim.Dialect dialect = new WorkerClaim.Dialect() {
            @Override
            public Connection openSession() throws SQLException {
                return PostgresConnector.connect(plan.target(), plan.target().database(), Duration.ofSeconds(30));
            }

            @Override
            public String tryLock() {
                return "SELECT pg_try_advisory_lock(" + LOCK_CLASS + ", hashtext(?))";
            }

            @Override
            public String lockHolder() {
                return "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database "
                        + "WHERE datname = current_database()) AND classid = " + LOCK_CLASS + " AND objid = hashtext(?)::oid AND objsubid = 2";
            }

            @Override
            public String upsertWorker() {
                return "INSERT INTO migrator.worker (migration, address, host, pid, started_at, token) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT "
                        + "(migration) DO UPDATE SET address = EXCLUDED.address, host = EXCLUDED.host, pid = EXCLUDED.pid, "
                        + "started_at = EXCLUDED.started_at, token = EXCLUDED.token";
            }

            @Override
            public String sessionId() {
                return "SELECT pg_backend_pid()";
            }

            @Override
            public String fenceToken() {
                return "SELECT token FROM migrator.worker WHERE migration = ? FOR SHARE";
            }

            @Override
            public String endSession(String holder) {
                return "SELECT pg_terminate_backend(" + Long.parseLong(holder) + ")";
            }

            @Override
            public String upsertState() {
                return "INSERT INTO migrator.state (migration, phase, start_position, detail, updated_at) VALUES (?, ?, ?, ?, ?) "
                        + "ON CONFLICT (migration) DO UPDATE SET phase = EXCLUDED.phase, start_position = COALESCE(EXCLUDED.start_position, "
                        + "migrator.state.start_position), detail = EXCLUDED.detail, updated_at = EXCLUDED.updated_at";
            }

            @Override
            public boolean missing(SQLException e) {
                return noBookkeeping(e);
            }

            @Override
            public io.migrator.core.error.MigratorException translate(String doing, SQLException e) {
                return PostgresErrors.translate(doing, e);
            }
        };
        this.bookkeeping = new io.migrator.connectors.jdbc.Bookkeeping(pool, plan.name(), dialect);
        this.applier = new PostgresApplier(plan.name(), pool, writer, origin, bookkeeping);
        this.sequences = new PostgresSequenceSync(plan, pool, this::source);
    }

    private Connection source() throws SQLException {
        if (plan.source().engine() != Engine.POSTGRESQL) {
            throw new MigratorException(ErrorCode.NOT_AVAILABLE, "migrating " + plan.source().engine() + " into PostgreSQL is not available",
                    "PostgreSQL targets take PostgreSQL sources");
        }
        // connect and login bounded by network.readTimeout too (at most 30 s): a 30 s login wait on a hanging source kept the
        // applier busy past the stall detector's window (PostgresFaultIT, again after the first fix)
        Duration wait = Duration.ofMillis(Math.max(1000, Math.min(30_000, plan.source().readTimeout().toMillis())));
        Connection c = PostgresConnector.connect(plan.source(), plan.source().database(), wait);
        // reads of the source's catalog and sequences (the sequence sync every few seconds): a source that hangs fails them
        // after network.readTimeout (the sync once ran on the applier's thread, which then looked busy, and a source stall was
        // not noticed for 50 s: PostgresFaultIT)
        c.setNetworkTimeout(Runnable::run, (int) Math.min(Integer.MAX_VALUE, Math.max(1000, plan.source().readTimeout().toMillis())));
        return c;
    }

    @Override
    public void prepare() {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE SCHEMA IF NOT EXISTS " + BOOKKEEPING);
            st.execute("CREATE TABLE IF NOT EXISTS migrator.state (migration text PRIMARY KEY, phase text NOT NULL, start_position text, "
                    + "detail text, updated_at timestamptz NOT NULL)");
            st.execute("CREATE TABLE IF NOT EXISTS migrator.journal (id bigserial PRIMARY KEY, migration text NOT NULL, phase text NOT NULL, "
                    + "detail text, at timestamptz NOT NULL)");
            st.execute("CREATE TABLE IF NOT EXISTS migrator.chunks (migration text NOT NULL, table_schema text NOT NULL, table_name text NOT NULL, "
                    + "chunk int NOT NULL, lower_bound text, upper_bound text, done boolean NOT NULL DEFAULT false, rows_copied bigint NOT NULL "
                    + "DEFAULT 0, PRIMARY KEY (migration, table_schema, table_name, chunk))");
            st.execute("CREATE TABLE IF NOT EXISTS migrator.checkpoint (migration text PRIMARY KEY, position text NOT NULL, events bigint NOT NULL, "
                    + "updated_at timestamptz NOT NULL)");
            st.execute("CREATE TABLE IF NOT EXISTS migrator.worker (migration text PRIMARY KEY, address text, host text, pid bigint, "
                    + "started_at text NOT NULL, token text)");
            try (ResultSet rs = st.executeQuery("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'migrator' "
                    + "AND table_name = 'worker' AND column_name = 'token'")) {
                rs.next();
                if (rs.getLong(1) == 0) { // the first build with the table had none; checked first: ALTER locks the table
                    st.execute("ALTER TABLE migrator.worker ADD COLUMN IF NOT EXISTS token text"); // two workers may race here
                }
            }
            st.execute("CREATE TABLE IF NOT EXISTS migrator.identity (migration text PRIMARY KEY, id text NOT NULL, source text NOT NULL, "
                    + "source_keeps_id boolean NOT NULL, created_at timestamptz NOT NULL)");
            st.execute("CREATE TABLE IF NOT EXISTS migrator.validation (id bigserial PRIMARY KEY, migration text NOT NULL, state text NOT NULL, "
                    + "started_at text NOT NULL, finished_at text NOT NULL, rows_compared bigint NOT NULL, mismatches bigint NOT NULL, "
                    + "parity_percent double precision, report text NOT NULL)");
        } catch (SQLException e) {
            throw PostgresErrors.translate("preparing the bookkeeping schema 'migrator' on the target", e);
        }
    }

    /** 42P01 undefined_table or 3F000 invalid_schema_name: nothing was ever recorded here. */
    private static boolean noBookkeeping(SQLException e) {
        return "42P01".equals(e.getSQLState()) || "3F000".equals(e.getSQLState());
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
    public List<TableId> missingTables(List<TableDef> tables) {
        List<TableId> missing = new ArrayList<>();
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?) IS NULL")) {
            for (TableDef table : tables) {
                ps.setString(1, PostgresDialect.quote(table.id()));
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getBoolean(1)) {
                        missing.add(table.id());
                    }
                }
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("listing target tables", e);
        }
        return missing;
    }

    @Override
    public void createTable(TableDef table) {
        List<TableDef> one = List.of(table);
        try (Connection s = source(); Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            List<String> statements = new ArrayList<>(PostgresSchema.schemas(one));
            statements.addAll(PostgresSchema.types(s, one));
            statements.addAll(PostgresSchema.sequences(s, one));
            statements.add(PostgresSchema.withoutPrimaryKey(table)); // the key is built after the copy, like the other indexes
            statements.addAll(PostgresSchema.partitions(s, table));
            statements.addAll(PostgresSchema.ownership(s, one));
            c.setAutoCommit(false);
            for (String sql : statements) {
                st.execute(sql);
            }
            c.commit();
        } catch (SQLException e) {
            throw PostgresErrors.translate("creating target table " + table.id(), e);
        }
    }

    /**
     * Constraints, indexes and foreign keys after the copy (each statement skips what exists), then the table's sequences
     * brought up to the source's values and its statistics gathered (ANALYZE). A foreign key whose referenced unique key
     * another table is still building waits for it.
     */
    @Override
    public void buildDeferredIndexes(TableDef table) {
        List<TableDef> one = List.of(table);
        try (Connection s = source(); Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            c.setNetworkTimeout(Runnable::run, 0); // an index build may take hours: network.readTimeout is lifted for it
            for (String sql : PostgresSchema.deferred(s, one)) {
                long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
                int races = 0;
                while (true) {
                    try {
                        st.execute(sql);
                        break;
                    } catch (SQLException e) {
                        String state = e.getSQLState() == null ? "" : e.getSQLState();
                        // 42830: the referenced unique key is not built yet. 42P07, 42710, 23505: the index or constraint came
                        // into being while this statement ran — an earlier attempt's statement, its connection cut, went on
                        // in the server and committed first; the statement skips it when run again
                        // (23505 only on the catalog's own names: on the table's rows it is duplicate data, never retried)
                        String text = String.valueOf(e.getMessage());
                        boolean raced = state.equals("42P07") || state.equals("42710") || state.equals("23505")
                                && (text.contains("pg_class_relname_nsp_index") || text.contains("pg_type_typname_nsp_index"));
                        if (!(state.equals("42830") || raced && ++races <= 3) || System.nanoTime() > deadline) {
                            throw e;
                        }
                        if (raced) {
                            LOG.info("an earlier attempt's build on {} finished meanwhile ({}); running the statement again", table.id(),
                                    e.getMessage());
                        }
                        Thread.sleep(500);
                    }
                }
            }
            List<String> moved = PostgresSchema.syncSequences(s, c, one);
            if (!moved.isEmpty()) {
                LOG.info("sequences of {} brought up to the source: {}", table.id(), moved);
            }
            // column statistics now, not when autovacuum gets to it: the planner serves the application's first queries
            // after cutover with them (a sample of 30,000 rows by default: well under a second for 10M rows). A table
            // migrator does not own gets a warning from PostgreSQL, not an error, and keeps the statistics it had
            st.execute("ANALYZE " + PostgresDialect.quote(table.id()));
            for (java.sql.SQLWarning w = st.getWarnings(); w != null; w = w.getNextWarning()) {
                LOG.warn("statistics of {} were not gathered: {}; run ANALYZE on it as its owner before cutover", table.id(), w.getMessage());
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("building the constraints and indexes of " + table.id(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public boolean hasRows(TableDef table) {
        try {
            return io.migrator.connectors.jdbc.TableProbe.hasRows(pool, PostgresDialect.quote(table.id()));
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading target table " + table.id(), e);
        }
    }

    @Override
    public List<String> differences(TableDef source) {
        Map<String, String> target = new LinkedHashMap<>();
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT a.attname, format_type(a.atttypid, a.atttypmod) "
                + "FROM pg_attribute a WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")) {
            ps.setString(1, PostgresDialect.quote(source.id()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    target.put(rs.getString(1), rs.getString(2));
                }
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading target table " + source.id(), e);
        }
        return io.migrator.connectors.jdbc.ColumnDifferences.of(source.columns(), target, String::equals);
    }

    @Override
    public List<ChunkProgress> chunks(TableId table) {
        List<ChunkProgress> chunks = new ArrayList<>();
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT chunk, lower_bound, upper_bound, done, rows_copied "
                + "FROM migrator.chunks WHERE migration = ? AND table_schema = ? AND table_name = ? ORDER BY chunk")) {
            ps.setString(1, plan.name());
            ps.setString(2, table.schema());
            ps.setString(3, table.name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    chunks.add(new ChunkProgress(table, new Chunk(rs.getInt(1), rs.getString(2), rs.getString(3)), rs.getBoolean(4), rs.getLong(5)));
                }
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading the chunk plan of " + table, e);
        }
        return chunks;
    }

    @Override
    public void saveChunkPlan(TableId table, List<Chunk> chunks) {
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO migrator.chunks (migration, table_schema, table_name, chunk, lower_bound, "
                    + "upper_bound) VALUES (?, ?, ?, ?, ?, ?)")) {
                for (Chunk chunk : chunks) {
                    ps.setString(1, plan.name());
                    ps.setString(2, table.schema());
                    ps.setString(3, table.name());
                    ps.setInt(4, chunk.number());
                    ps.setString(5, chunk.lower());
                    ps.setString(6, chunk.upper());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            c.commit();
        } catch (SQLException e) {
            throw PostgresErrors.translate("saving the chunk plan of " + table, e);
        }
    }

    @Override
    public ChunkWriter beginChunk(TableDef table, Chunk chunk) {
        try {
            Connection c = pool.getConnection();
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                // a chunk's rows and its done mark commit or vanish together, so a commit lost to a target crash only means the
                // chunk is copied again: no need to wait for the WAL flush. (Never for changes: their commit lets the slot go.)
                st.execute("SET LOCAL synchronous_commit = off");
            }
            return new PostgresChunkWriter(c, table, chunk, plan.name(), bookkeeping);
        } catch (SQLException e) {
            throw PostgresErrors.translate("opening a target connection", e);
        }
    }

    @Override
    public Optional<SourcePosition> checkpoint() {
        return bookkeeping.checkpoint();
    }

    @Override
    public boolean holdsTransactions() {
        return true;
    }

    @Override
    public boolean inOpenTransaction() {
        return applier.inOpenTransaction();
    }

    @Override
    public void applyOpen(List<RowChange> changes, long eventCount) {
        applier.applyOpen(changes, eventCount);
    }

    @Override
    public void endApply() {
        sequences.stop();
        applier.end();
    }

    @Override
    public void abandonOpen() {
        applier.abandonOpen();
    }

    @Override
    public void apply(List<RowChange> changes, SourcePosition position, long eventCount) {
        applier.apply(changes, position, eventCount);
        sequences.start();
    }

    @Override
    public Optional<SourcePosition> durable(SourcePosition applied) {
        return applier.durable();
    }

    @Override
    public void makeDurable() {
        applier.makeDurable();
    }

    /** Brings every sequence of the plan's tables on the target up to at least the source's value; returns those moved. */
    @Override
    public List<String> syncSequences() {
        return sequences.sync();
    }

    // ---- the cutover (PostgresTargetCutover): the application's roles, the opening, the reverse position ----

    private volatile PostgresTargetCutover cutover;

    private PostgresTargetCutover cutover() {
        if (cutover == null) {
            cutover = new PostgresTargetCutover(plan, pool, this::source, () -> {
                try (Connection s = source()) {
                    return PostgresSchema.tables(s, plan.tables()).stream().map(TableDef::id).toList();
                } catch (SQLException e) {
                    throw PostgresErrors.translate("reading the source's tables", e);
                }
            });
        }
        return cutover;
    }

    @Override
    public List<io.migrator.core.spi.CutoverCheck> cutoverChecks(io.migrator.core.spi.CutoverCheck.Context context) {
        return cutover().checks(context);
    }

    @Override
    public Optional<String> reversePosition() {
        return cutover().reversePosition();
    }

    @Override
    public String openForWrites() {
        return cutover().open();
    }

    @Override
    public String closeForWrites() {
        return cutover().close();
    }

    /**
     * The direction that streams out of this server after the switch gets its slot and publication here now, before the
     * freeze (PostgresSource#prepareStream): the reverse direction on the new server at a cutover, the forward direction on
     * the old source at a rollback.
     */
    @Override
    public String prepareReverse(String direction) {
        try (PostgresSource server = new PostgresSource(plan.reversed(direction))) {
            return server.prepareStream();
        }
    }

    @Override
    public String dropReverse(String direction) {
        try (PostgresSource server = new PostgresSource(plan.reversed(direction))) {
            List<String> dropped = server.releaseStream();
            return dropped.isEmpty() ? "" : "dropped on the target: " + String.join(", ", dropped);
        }
    }

    /**
     * The traffic points here now: the grants a lasting freeze of the other direction revoked on this server come back (a
     * rollback's on the new server, recorded under the reverse plan's name; a cutover's on the old source, under the forward
     * plan's). Grants recorded by any other migration are not touched.
     */
    @Override
    public String admitApplication() {
        List<String> restored = new ArrayList<>();
        PostgresCutover grants = new PostgresCutover(plan, pool, List::of);
        for (String migration : PostgresCutover.revokedBy(pool)) {
            if (migration.equals(Plan.reverseName(plan.name())) || Plan.reverseName(migration).equals(plan.name())) {
                String done = grants.restore(migration);
                if (!done.startsWith("no revoked")) {
                    restored.add(done);
                }
            }
        }
        return String.join("; ", restored);
    }

    @Override
    public long appliedEvents() {
        return bookkeeping.appliedEvents();
    }

    @Override
    public List<MigrationState> journal() {
        return bookkeeping.journal();
    }

    @Override
    public List<ChunkProgress> allChunks() {
        List<ChunkProgress> chunks = new ArrayList<>();
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT table_schema, table_name, chunk, done, rows_copied "
                + "FROM migrator.chunks WHERE migration = ? ORDER BY table_schema, table_name, chunk")) {
            ps.setString(1, plan.name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    chunks.add(new ChunkProgress(new TableId(rs.getString(1), rs.getString(2)), new Chunk(rs.getInt(3), null, null), rs.getBoolean(4),
                            rs.getLong(5)));
                }
            }
        } catch (SQLException e) {
            if (noBookkeeping(e)) {
                return List.of();
            }
            throw PostgresErrors.translate("reading the chunk plans", e);
        }
        return chunks;
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
    public synchronized List<String> forget() {
        io.migrator.connectors.jdbc.Bookkeeping.Forgotten forgotten = bookkeeping.forget();
        List<String> removed = new ArrayList<>(forgotten.removed());
        sequences.close();
        applier.discard();
        try (Connection c = pool.getConnection()) {
            String dropped = PostgresOrigin.drop(c, plan.name());
            if (!dropped.isEmpty()) {
                removed.add(dropped);
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("dropping the applier's replication origin", e);
        }
        if (!forgotten.othersRemain()) {
            try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
                // the schema may also hold what this server keeps as another migration's source (its heartbeat, migration ids,
                // revoked grants): those stay, and the schema with them
                List<String> others = new ArrayList<>();
                try (ResultSet rs = st.executeQuery("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        + "WHERE n.nspname = '" + BOOKKEEPING + "' AND c.relkind IN ('r', 'p', 'v')")) {
                    while (rs.next()) {
                        if (!io.migrator.connectors.jdbc.Bookkeeping.TABLES.contains(rs.getString(1)) && !rs.getString(1).equals("opened_triggers")) {
                            others.add(rs.getString(1));
                        }
                    }
                }
                if (others.isEmpty()) {
                    st.execute("DROP SCHEMA IF EXISTS " + BOOKKEEPING + " CASCADE");
                    removed.add("schema migrator (no other migration uses it)");
                } else {
                    for (String table : io.migrator.connectors.jdbc.Bookkeeping.TABLES) {
                        st.execute("DROP TABLE IF EXISTS " + BOOKKEEPING + "." + PostgresDialect.quote(table));
                    }
                    st.execute("DROP TABLE IF EXISTS " + BOOKKEEPING + ".opened_triggers");
                    removed.add("the bookkeeping tables of schema migrator (it keeps " + String.join(", ", others) + ")");
                }
            } catch (SQLException e) {
                throw PostgresErrors.translate("dropping the bookkeeping schema", e);
            }
        }
        return removed;
    }

    @Override
    public void applyDdl(String statement) {
        applier.applyDdl(statement);
    }

    private volatile PostgresChecksums checksums;

    @Override
    public io.migrator.core.spi.RowChecksums checksums() {
        if (checksums == null) {
            checksums = new PostgresChecksums(pool, "target");
        }
        return checksums;
    }

    /**
     * The PostgreSQL stream delivers only statements it made itself: TRUNCATEs and relation descriptions
     * ({@link PostgresColumnJudge}: columns added on the source are added here). They are judged by what they are, not by
     * the default policy's text patterns, which read MySQL quoting and took {@code "public"."t"} for a table named TABLE
     * outside the plan.
     */
    @Override
    public java.util.Optional<io.migrator.core.spi.DdlJudge> ddlJudge(io.migrator.core.spi.SourceSession source,
                                                                     io.migrator.core.plan.TableFilter tables, String sourceDatabase) {
        if (!(source instanceof PostgresSource postgres)) {
            throw new IllegalStateException("a PostgreSQL target streams from a PostgreSQL source, not " + source.getClass().getSimpleName());
        }
        return java.util.Optional.of(new PostgresColumnJudge(pool, postgres.catalog()));
    }

    @Override
    public void close() {
        sequences.close();
        applier.discard();
        pool.close();
    }
}
