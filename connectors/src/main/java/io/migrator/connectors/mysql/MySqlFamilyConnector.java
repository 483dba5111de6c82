package io.migrator.connectors.mysql;

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

/** MySQL and MariaDB: connectivity now; snapshot, binlog CDC and apply arrive with their issue. */
public final class MySqlFamilyConnector implements EngineConnector {
    @Override
    public Set<Engine> engines() {
        return Set.of(Engine.MYSQL, Engine.MARIADB);
    }

    /** The JDBC URL of the server (no default database: the probe checks the database exists separately). */
    public static String serverUrl(Endpoint endpoint) {
        return endpoint.engine() == Engine.MARIADB
                ? "jdbc:mariadb://" + endpoint.address() + "/"
                : "jdbc:mysql://" + endpoint.address() + "/";
    }

    public static Connection connect(Endpoint endpoint, Duration timeout) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", endpoint.user());
        props.setProperty("password", endpoint.password().reveal());
        props.setProperty("connectTimeout", Long.toString(timeout.toMillis()));
        io.migrator.connectors.jdbc.DriverTls.addTo(props, io.migrator.connectors.jdbc.DriverTls.mysqlFamily(endpoint));
        return DriverManager.getConnection(serverUrl(endpoint), props);
    }

    @Override
    public io.migrator.core.spi.SourceSession openSource(io.migrator.core.plan.Plan plan) {
        return new MySqlSource(plan);
    }

    @Override
    public io.migrator.core.spi.TargetSession openTarget(io.migrator.core.plan.Plan plan) {
        return new MySqlTarget(plan);
    }

    @Override
    public java.util.List<io.migrator.core.spi.Assessment> preflight(io.migrator.core.plan.Plan plan, Role role, ServerInfo server) {
        Endpoint endpoint = role == Role.SOURCE ? plan.source() : plan.target();
        try (Connection c = connect(endpoint, Duration.ofSeconds(10))) {
            MySqlServerFacts facts = MySqlServerFacts.read(c, endpoint.database(), plan.name());
            if (role == Role.SOURCE) {
                return MySqlPreflight.source(plan, facts);
            }
            MySqlServerFacts sourceFacts = null;
            MySqlRowSizes rows = null;
            try (Connection s = connect(plan.source(), Duration.ofSeconds(10))) {
                sourceFacts = MySqlServerFacts.read(s, plan.source().database(), plan.name());
                long targetPacket = packet(facts);
                if (targetPacket > 0 && targetPacket < packet(sourceFacts)) {
                    rows = MySqlRowSizes.measure(s, plan.source().database(), plan.tables(), targetPacket);
                }
            } catch (SQLException e) {
                // the source check reports why it cannot be reached; compare nothing here
            }
            return MySqlPreflight.target(plan, facts, sourceFacts, rows);
        } catch (SQLException e) {
            throw JdbcErrors.connectFailed(role, endpoint, e);
        }
    }

    private static long packet(MySqlServerFacts facts) {
        try {
            return Long.parseLong(facts.variable("max_allowed_packet").trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    @Override
    public boolean resumes(io.migrator.core.plan.Plan plan) {
        try (Connection c = connect(plan.target(), Duration.ofSeconds(10));
             java.sql.PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM migrator.state WHERE migration = ?")) {
            ps.setString(1, plan.name());
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1) > 0;
            }
        } catch (SQLException e) {
            return false; // no bookkeeping yet (or no target): a first start
        }
    }

    @Override
    public ServerInfo probe(Endpoint endpoint, Role role, Duration timeout) {
        try (Connection c = connect(endpoint, timeout)) {
            Map<String, String> facts = new LinkedHashMap<>();
            String version;
            try (var st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT VERSION(), @@version_comment, @@server_id")) {
                rs.next();
                version = rs.getString(1);
                facts.put("versionComment", rs.getString(2));
                facts.put("serverId", rs.getString(3));
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?")) {
                ps.setString(1, endpoint.database());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    facts.put("databaseExists", Boolean.toString(rs.getInt(1) > 0));
                }
            }
            String product = version.toLowerCase(java.util.Locale.ROOT).contains("mariadb") ? "MariaDB" : "MySQL";
            return new ServerInfo(product, version.replace("-log", ""), facts);
        } catch (SQLException e) {
            throw JdbcErrors.connectFailed(role, endpoint, e);
        }
    }
}
