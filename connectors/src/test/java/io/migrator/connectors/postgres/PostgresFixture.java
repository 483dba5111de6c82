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

    PostgresFixture(SandboxServers servers, String prefix) throws SQLException {
        this.source = servers.postgresSource();
        this.target = servers.postgresTarget();
        this.db = prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        for (SandboxEndpoint e : List.of(source, target)) {
            try (Connection c = connect(e, "postgres"); Statement st = c.createStatement()) {
                st.execute("CREATE DATABASE " + db);
            }
        }
    }

    static Connection connect(SandboxEndpoint e, String database) throws SQLException {
        return DriverManager.getConnection(e.jdbcUrl(database), e.user(), e.password());
    }

    Connection source() throws SQLException {
        return connect(source, db);
    }

    Connection target() throws SQLException {
        return connect(target, db);
    }

    @Override
    public void close() throws SQLException {
        for (SandboxEndpoint e : List.of(source, target)) {
            try (Connection c = connect(e, "postgres"); Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            }
        }
    }
}
