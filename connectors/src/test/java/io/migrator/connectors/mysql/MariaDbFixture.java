package io.migrator.connectors.mysql;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** A fresh database of its own on the sandbox MariaDB pair, a plan for it, and row-by-row comparison. */
final class MariaDbFixture {
    final SandboxEndpoint source;
    final SandboxEndpoint target;
    final String database;

    MariaDbFixture(SandboxServers servers, String prefix) throws SQLException {
        this.source = servers.mariadbSource();
        this.target = servers.mariadbTarget();
        this.database = prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        try (Connection c = connect(source); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE `" + database + "`");
        }
    }

    Connection source() throws SQLException {
        return DriverManager.getConnection(source.jdbcUrl(database), source.user(), source.password());
    }

    Connection target() throws SQLException {
        return DriverManager.getConnection(target.jdbcUrl(database), target.user(), target.password());
    }

    static Connection connect(SandboxEndpoint e) throws SQLException {
        return DriverManager.getConnection(e.jdbcUrl(""), e.user(), e.password());
    }

    Plan plan(String extra) {
        return plan(extra, target.port());
    }

    /** As {@link #plan(String)}, with the target reached on another port (a fault proxy in front of it). */
    Plan plan(String extra, int targetPort) {
        String yaml = """
                name: %s
                source: {engine: mariadb, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s}
                target: {engine: mariadb, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s}
                %s
                """.formatted(database.replace('_', '-'), source.host(), source.port(), source.user(), database,
                target.host(), targetPort, target.user(), database, extra);
        return new PlanLoader(Map.of("PW", source.password())).parse("it.yaml", yaml, Path.of("."));
    }

    /** Every row of a table, in key order, each value as text (bytes as hex), read from one side. */
    static List<List<String>> rows(Connection c, String table, String orderBy) throws SQLException {
        List<List<String>> rows = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT * FROM `" + table + "` ORDER BY " + orderBy)) {
            ResultSetMetaData meta = rs.getMetaData();
            while (rs.next()) {
                List<String> row = new ArrayList<>();
                for (int i = 1; i <= meta.getColumnCount(); i++) {
                    int type = meta.getColumnType(i);
                    boolean binary = type == java.sql.Types.BINARY || type == java.sql.Types.VARBINARY
                            || type == java.sql.Types.LONGVARBINARY || type == java.sql.Types.BLOB || type == java.sql.Types.BIT;
                    if (binary) {
                        byte[] b = rs.getBytes(i);
                        row.add(b == null ? null : "0x" + HexFormat.of().formatHex(b));
                    } else {
                        row.add(rs.getString(i));
                    }
                }
                rows.add(row);
            }
        }
        return rows;
    }

    void drop() {
        for (SandboxEndpoint e : List.of(source, target)) {
            try (Connection c = connect(e); Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS `" + database + "`");
            } catch (SQLException ignored) {
                // best effort
            }
        }
    }
}
