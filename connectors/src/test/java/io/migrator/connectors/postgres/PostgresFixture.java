package io.migrator.connectors.postgres;

import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.UUID;

/** A throwaway database of the same name on the sandbox's PostgreSQL source and target, dropped afterwards. */
final class PostgresFixture implements AutoCloseable {
    final SandboxEndpoint source;
    final SandboxEndpoint target;
    final String db;

    /** Set once the leftovers of interrupted earlier runs were looked for in this JVM. */
    private static final java.util.concurrent.atomic.AtomicBoolean SWEPT = new java.util.concurrent.atomic.AtomicBoolean();

    PostgresFixture(SandboxServers servers, String prefix) throws SQLException {
        this.source = servers.postgresSource();
        this.target = servers.postgresTarget();
        if (SWEPT.compareAndSet(false, true)) {
            for (SandboxEndpoint e : List.of(source, target)) {
                sweepLeftovers(e, java.time.Duration.ofHours(1));
            }
        }
        this.db = prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        for (SandboxEndpoint e : List.of(source, target)) {
            try (Connection c = connect(e, "postgres"); Statement st = c.createStatement()) {
                st.execute("CREATE DATABASE " + db);
            }
        }
    }

    /**
     * Drops what fixtures of interrupted earlier runs left on one side (a run killed before {@link #close()}): databases
     * named as a fixture names them, made longer ago than {@code age}, with no session on them and no slot in use, together with their
     * slots and origins. One such slot kept 55 GB of WAL on a developer's source until the disk filled; CI starts from a fresh
     * sandbox and never sees one.
     */
    static List<String> sweepLeftovers(SandboxEndpoint side, java.time.Duration age) throws SQLException {
        List<String> dropped = new java.util.ArrayList<>();
        try (Connection c = connect(side, "postgres"); var st = c.prepareStatement("""
                        SELECT d.datname FROM pg_database d
                         WHERE d.datname ~ '^[a-z0-9]+_[0-9a-f]{8}$'
                           AND (pg_stat_file('base/' || d.oid || '/PG_VERSION')).modification < now() - make_interval(secs => ?)
                           AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)
                           AND NOT EXISTS (SELECT 1 FROM pg_replication_slots s WHERE s.database = d.datname AND s.active)""")) {
            st.setLong(1, age.toSeconds());
            try (var rs = st.executeQuery()) {
                while (rs.next()) {
                    dropped.add(rs.getString(1));
                }
            }
        }
        for (String db : dropped) {
            try (Connection c = connect(side, "postgres"); Statement st = c.createStatement()) {
                st.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '" + db + "' AND NOT active");
                st.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
                st.execute("SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE starts_with(roname, '"
                        + PostgresOrigin.PREFIX + db.replace('_', '-') + "')");
            }
            System.err.println("PostgresFixture: dropped " + db + " on " + side.host() + ":" + side.port()
                    + ", left by an interrupted earlier run (its slot kept the source's WAL)");
        }
        return dropped;
    }

    static Connection connect(SandboxEndpoint e, String database) throws SQLException {
        return DriverManager.getConnection(e.jdbcUrl(database), e.user(), e.password());
    }

    /** A plan from this fixture's source database to its target database, with extra YAML appended. */
    io.migrator.core.plan.Plan plan(String extra) {
        return plan(extra, target.port());
    }

    /** As {@link #plan(String)}, with the target reached on another port (a fault proxy in front of it). */
    io.migrator.core.plan.Plan plan(String extra, int targetPort) {
        String yaml = """
                name: %s
                source: {engine: postgresql, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s}
                target: {engine: postgresql, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s}
                %s
                """.formatted(db.replace('_', '-'), source.host(), source.port(), source.user(), db, target.host(), targetPort, target.user(),
                db, extra);
        return new io.migrator.core.plan.PlanLoader(java.util.Map.of("PW", source.password())).parse("it.yaml", yaml, java.nio.file.Path.of("."));
    }

    /** Drops the migration's slot on the source (a database with a slot cannot be dropped). */
    void dropSlot() throws SQLException {
        dropSlots(source);
    }

    /** Drops every slot of the fixture's database on one side (a reverse direction's is on the target). */
    void dropSlots(SandboxEndpoint side) throws SQLException {
        // a stream closed a moment ago may still hold the slot until its WAL sender exits
        whenFree(side, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '" + db + "'");
    }

    /** Runs {@code sql} on one side, again while what it drops is still in use (55006) by a session that is ending. */
    private static void whenFree(SandboxEndpoint side, String sql) throws SQLException {
        for (int attempt = 0; ; attempt++) {
            try (Connection c = connect(side, "postgres"); Statement st = c.createStatement()) {
                st.execute(sql);
                return;
            } catch (SQLException e) {
                if (attempt >= 40 || !"55006".equals(e.getSQLState())) {
                    throw e;
                }
                try {
                    Thread.sleep(250);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    /** Sets a server setting of the source (ALTER SYSTEM, reloaded); null resets it. */
    void setSource(String setting, String value) throws SQLException {
        try (Connection c = connect(source, "postgres"); Statement st = c.createStatement()) {
            st.execute(value == null ? "ALTER SYSTEM RESET " + setting : "ALTER SYSTEM SET " + setting + " = '" + value + "'");
            st.execute("SELECT pg_reload_conf()");
        }
    }

    /** The first column of a query's first row, as text (null when there is no row or it is NULL). */
    static String scalar(Connection c, String sql) throws SQLException {
        try (java.sql.Statement st = c.createStatement(); java.sql.ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    /** Every row of a table in key order, as the server prints it ({@code t::text}), read from one side. */
    static List<String> rows(Connection c, String table, String orderBy) throws SQLException {
        List<String> rows = new java.util.ArrayList<>();
        try (Statement st = c.createStatement(); var rs = st.executeQuery("SELECT t::text FROM " + table + " t ORDER BY " + orderBy)) {
            while (rs.next()) {
                rows.add(rs.getString(1));
            }
        }
        return rows;
    }

    Connection source() throws SQLException {
        return connect(source, db);
    }

    Connection target() throws SQLException {
        return connect(target, db);
    }

    @Override
    public void close() throws SQLException {
        dropSlot();
        dropSlots(target);
        for (SandboxEndpoint e : List.of(source, target)) {
            try (Connection c = connect(e, "postgres"); Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            }
            dropOrigins(e);
        }
    }

    /**
     * Drops the replication origins the migrations of this fixture's plans made (the appliers' marks, PostgresOrigin): they
     * belong to the whole server, not to the database, and each holds one of its max_replication_slots origin states.
     */
    private void dropOrigins(SandboxEndpoint side) throws SQLException {
        // a session ended a moment ago may still hold one
        whenFree(side, "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE starts_with(roname, '"
                + PostgresOrigin.PREFIX + db.replace('_', '-') + "')");
    }
}
