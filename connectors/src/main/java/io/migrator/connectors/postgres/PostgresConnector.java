package io.migrator.connectors.postgres;

import io.migrator.connectors.jdbc.JdbcErrors;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;
import io.migrator.core.spi.EngineConnector;
import io.migrator.core.spi.Role;
import io.migrator.core.spi.ServerInfo;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/** PostgreSQL: preflight, exported-snapshot COPY, pgoutput CDC read straight from the slot ({@link PgOutputStream}) and apply into a PostgreSQL target. */
public final class PostgresConnector implements EngineConnector {
    @Override
    public Set<Engine> engines() {
        return Set.of(Engine.POSTGRESQL);
    }

    @Override
    public io.migrator.core.spi.SourceSession openSource(io.migrator.core.plan.Plan plan) {
        return new PostgresSource(plan);
    }

    @Override
    public io.migrator.core.spi.TargetSession openTarget(io.migrator.core.plan.Plan plan) {
        return new PostgresTarget(plan);
    }

    public static Connection connect(Endpoint endpoint, String database, Duration timeout) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", endpoint.user());
        props.setProperty("password", endpoint.password().reveal());
        props.setProperty("connectTimeout", Long.toString(Math.max(1, timeout.toSeconds())));
        // the whole login too: a server (or a connection) that accepts and then hangs must not hold the caller for ever
        props.setProperty("loginTimeout", Long.toString(Math.max(1, timeout.toSeconds())));
        props.setProperty("ApplicationName", "migrator");
        io.migrator.connectors.jdbc.DriverTls.addTo(props, io.migrator.connectors.jdbc.DriverTls.postgres(endpoint));
        return DriverManager.getConnection("jdbc:postgresql://" + endpoint.address() + "/" + database, props);
    }

    /**
     * Reads the facts of the plan's database on this side (and, for the target, the source's too: extensions and tables
     * are compared) and judges them. A missing database is left to the common check.
     */
    @Override
    public java.util.List<io.migrator.core.spi.Assessment> preflight(io.migrator.core.plan.Plan plan, Role role, ServerInfo server) {
        Endpoint endpoint = role == Role.SOURCE ? plan.source() : plan.target();
        if ("false".equals(server.facts().get("databaseExists"))) {
            return java.util.List.of();
        }
        Duration timeout = Duration.ofSeconds(10);
        try (Connection c = connect(endpoint, endpoint.database(), timeout)) {
            PostgresServerFacts facts = PostgresServerFacts.read(c, plan.tables());
            if (role == Role.SOURCE) {
                return PostgresPreflight.source(plan, facts);
            }
            PostgresServerFacts source = null;
            if (plan.source().engine() == Engine.POSTGRESQL) {
                try (Connection s = connect(plan.source(), plan.source().database(), timeout)) {
                    source = PostgresServerFacts.read(s, plan.tables());
                } catch (SQLException e) {
                    source = null; // the source's own check reports why it cannot be read
                }
            }
            return PostgresPreflight.target(plan, facts, source, resuming(c, plan.name()));
        } catch (SQLException e) {
            throw JdbcErrors.connectFailed(role, endpoint, e);
        }
    }

    @Override
    public boolean resumes(io.migrator.core.plan.Plan plan) {
        try (Connection c = connect(plan.target(), plan.target().database(), Duration.ofSeconds(10))) {
            return resuming(c, plan.name());
        } catch (SQLException e) {
            return false; // no target database, or none reachable: a first start as far as the gate can tell
        }
    }

    /** The target holds this migration's state: a restart, whose tables are expected to hold rows. */
    private static boolean resuming(Connection c, String migration) throws SQLException {
        try (var st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT to_regclass('migrator.state') IS NOT NULL")) {
            rs.next();
            if (!rs.getBoolean(1)) {
                return false;
            }
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM migrator.state WHERE migration = ?")) {
            ps.setString(1, migration);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1) > 0;
            }
        }
    }

    @Override
    public ServerInfo probe(Endpoint endpoint, Role role, Duration timeout) {
        // Connect to the maintenance database first, so a missing target database is a finding, not a failure.
        try (Connection c = connect(endpoint, "postgres", timeout)) {
            Map<String, String> facts = new LinkedHashMap<>();
            String version;
            try (var st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT current_setting('server_version'), current_setting('wal_level')")) {
                rs.next();
                version = rs.getString(1);
                facts.put("walLevel", rs.getString(2));
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM pg_database WHERE datname = ?")) {
                ps.setString(1, endpoint.database());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    facts.put("databaseExists", Boolean.toString(rs.getInt(1) > 0));
                }
            }
            return new ServerInfo("PostgreSQL", version, facts);
        } catch (SQLException e) {
            throw JdbcErrors.connectFailed(role, endpoint, e);
        }
    }
}
