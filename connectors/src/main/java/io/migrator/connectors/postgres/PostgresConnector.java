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

/** PostgreSQL: connectivity now; exported-snapshot COPY, pgoutput CDC and apply arrive with their issue. */
public final class PostgresConnector implements EngineConnector {
    @Override
    public Set<Engine> engines() {
        return Set.of(Engine.POSTGRESQL);
    }

    public static Connection connect(Endpoint endpoint, String database, Duration timeout) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", endpoint.user());
        props.setProperty("password", endpoint.password().reveal());
        props.setProperty("connectTimeout", Long.toString(Math.max(1, timeout.toSeconds())));
        props.setProperty("ApplicationName", "migrator");
        return DriverManager.getConnection("jdbc:postgresql://" + endpoint.address() + "/" + database, props);
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
