package io.migrator.connectors;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.mysql.MySqlFamilyConnector;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Secret;
import io.migrator.core.spi.Role;
import io.migrator.core.spi.ServerInfo;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.mysql.MySQLContainer;

/**
 * MySQL-only paths need a MySQL server; no Debian package exists here, so they run in a Testcontainers
 * MySQL 8.4 where a Docker engine exists and are skipped, with the reason, where none does.
 */
class MySqlContainerIT {
    private static void requireDocker() {
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException e) {
            docker = false;
        }
        Assumptions.assumeTrue(docker, "SKIPPED: no Docker engine on this machine, so no MySQL 8.4 server: "
                + "MySQL-specific tests run only where Testcontainers finds Docker (MariaDB paths are covered by the sandbox)");
    }

    @Test
    void probesAndWritesToMySql84() throws Exception {
        requireDocker();
        try (MySQLContainer mysql = new MySQLContainer("mysql:8.4")) {
            mysql.start();
            Endpoint endpoint = new Endpoint(Engine.MYSQL, mysql.getHost(), mysql.getFirstMappedPort(), "root",
                    Secret.of(mysql.getPassword()), mysql.getDatabaseName(), List.of(), false);
            ServerInfo info = new MySqlFamilyConnector().probe(endpoint, Role.SOURCE, Duration.ofSeconds(10));
            assertThat(info.product()).isEqualTo("MySQL");
            assertThat(info.version()).startsWith("8.4");
            try (Connection c = MySqlFamilyConnector.connect(endpoint, Duration.ofSeconds(10)); Statement st = c.createStatement()) {
                st.execute("CREATE TABLE `" + mysql.getDatabaseName() + "`.t (id INT PRIMARY KEY, v VARCHAR(10))");
                st.execute("INSERT INTO `" + mysql.getDatabaseName() + "`.t VALUES (1, 'mysql')");
                try (ResultSet rs = st.executeQuery("SELECT v FROM `" + mysql.getDatabaseName() + "`.t WHERE id = 1")) {
                    assertThat(rs.next()).isTrue();
                    assertThat(rs.getString(1)).isEqualTo("mysql");
                }
            }
        }
    }

    /**
     * TLS against MySQL 8.4 (RDS and Aurora MySQL offer it the same way): each container's own auto-generated CA, a login
     * that may only connect over TLS (REQUIRE SSL), verify-ca (the auto-generated certificate names no host): the copy and
     * the binlog stream run over TLS and the target equals the source; a CA that did not sign the server's certificate is
     * refused naming the plan key, and verify-full against a certificate without the host's name is refused too.
     */
    @Test
    void copiesAndStreamsFromMySql84OverVerifiedTls(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        requireDocker();
        try (MySQLContainer source = new MySQLContainer("mysql:8.4").withUsername("root");
             MySQLContainer target = new MySQLContainer("mysql:8.4").withUsername("root")) {
            source.start();
            target.start();
            java.nio.file.Path sourceCa = tmp.resolve("source-ca.pem");
            java.nio.file.Path targetCa = tmp.resolve("target-ca.pem");
            source.copyFileFromContainer("/var/lib/mysql/ca.pem", sourceCa.toString());
            target.copyFileFromContainer("/var/lib/mysql/ca.pem", targetCa.toString());
            String db = source.getDatabaseName();
            for (MySQLContainer m : List.of(source, target)) {
                try (Connection c = java.sql.DriverManager.getConnection(m.getJdbcUrl(), "root", m.getPassword()); Statement st = c.createStatement()) {
                    st.execute("CREATE USER 'tlsonly'@'%' IDENTIFIED BY 'tls-pw' REQUIRE SSL");
                    st.execute("GRANT ALL PRIVILEGES ON *.* TO 'tlsonly'@'%'");
                }
            }
            try (Connection c = java.sql.DriverManager.getConnection(source.getJdbcUrl(), "root", source.getPassword());
                 Statement st = c.createStatement()) {
                st.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, note VARCHAR(200) NOT NULL)");
                for (int i = 1; i <= 500; i++) {
                    st.addBatch("INSERT INTO orders VALUES (" + i + ", 'seed-" + i + "')");
                }
                st.executeBatch();
            }
            String yaml = """
                    name: mysql-tls
                    source: {engine: mysql, host: %s, port: %d, user: tlsonly, password: "${env:PW}", database: %s, tls: {mode: %s, ca: '%s'}}
                    target: {engine: mysql, host: %s, port: %d, user: tlsonly, password: "${env:PW}", database: %s, tls: {mode: verify-ca, ca: '%s'}}
                    """;
            io.migrator.core.plan.PlanLoader loader = new io.migrator.core.plan.PlanLoader(java.util.Map.of("PW", "tls-pw"));
            io.migrator.core.plan.Plan wrongCa = loader.parse("w.yaml", yaml.formatted(source.getHost(), source.getFirstMappedPort(), db,
                    "verify-ca", targetCa, target.getHost(), target.getFirstMappedPort(), db, targetCa), java.nio.file.Path.of("."));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> new MySqlFamilyConnector().probe(wrongCa.source(), Role.SOURCE,
                    Duration.ofSeconds(10))).isInstanceOfSatisfying(io.migrator.core.error.MigratorException.class,
                    e -> assertThat(e.getMessage()).contains("no authority in source.tls.ca (" + targetCa + ") signed"));
            io.migrator.core.plan.Plan noName = loader.parse("n.yaml", yaml.formatted(source.getHost(), source.getFirstMappedPort(), db,
                    "verify-full", sourceCa, target.getHost(), target.getFirstMappedPort(), db, targetCa), java.nio.file.Path.of("."));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> new MySqlFamilyConnector().probe(noName.source(), Role.SOURCE,
                    Duration.ofSeconds(10))).isInstanceOf(io.migrator.core.error.MigratorException.class);

            io.migrator.core.plan.Plan plan = loader.parse("m.yaml", yaml.formatted(source.getHost(), source.getFirstMappedPort(), db,
                    "verify-ca", sourceCa, target.getHost(), target.getFirstMappedPort(), db, targetCa), java.nio.file.Path.of("."));
            try (io.migrator.connectors.testing.MigrationHarness run = new io.migrator.connectors.testing.MigrationHarness(plan)) {
                run.awaitPhase(io.migrator.core.state.Phase.STREAMING);
                try (Connection c = java.sql.DriverManager.getConnection(source.getJdbcUrl(), "root", source.getPassword());
                     Statement st = c.createStatement()) {
                    st.execute("INSERT INTO orders VALUES (501, 'streamed over TLS')");
                    st.execute("UPDATE orders SET note = 'changed' WHERE id % 7 = 0");
                    st.execute("DELETE FROM orders WHERE id % 11 = 0");
                }
                run.awaitCaughtUp();
            }
            try (Connection s = java.sql.DriverManager.getConnection(source.getJdbcUrl(), "root", source.getPassword());
                 Connection t = java.sql.DriverManager.getConnection(target.getJdbcUrl(), "root", target.getPassword())) {
                List<String> expected = notes(s);
                assertThat(expected).hasSize(501 - 501 / 11).contains("501:streamed over TLS");
                assertThat(notes(t)).containsExactlyElementsOf(expected);
            }
        }
    }

    private static List<String> notes(Connection c) throws Exception {
        List<String> out = new java.util.ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT id, note FROM orders ORDER BY id")) {
            while (rs.next()) {
                out.add(rs.getLong(1) + ":" + rs.getString(2));
            }
        }
        return out;
    }

    private static final String TYPES = """
            CREATE TABLE types (
              id INT PRIMARY KEY,
              ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
              i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED, boo BOOL,
              dec65 DECIMAL(65,30), du DECIMAL(8,3) UNSIGNED, f FLOAT, dbl DOUBLE, bit1 BIT(1), bit64 BIT(64),
              d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL, t TIME(6), y YEAR,
              c CHAR(5), vc VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_as_cs, l1 VARCHAR(20) CHARACTER SET latin1,
              bin BINARY(4), vbin VARBINARY(32), tb TINYBLOB, b BLOB, mb MEDIUMBLOB, lb LONGBLOB,
              tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT,
              e ENUM('small','medium','large'), st SET('red','green','blue'), j JSON,
              g GEOMETRY, p POINT, ls LINESTRING, pg POLYGON, mp MULTIPOINT, mls MULTILINESTRING, mpg MULTIPOLYGON, gc GEOMETRYCOLLECTION,
              gen_virtual INT AS (id * 2) VIRTUAL, gen_stored VARCHAR(80) AS (CONCAT(vc, '!')) STORED
            )""";
    private static final String INSERT = """
            INSERT INTO types (id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, boo, dec65, du, f, dbl, bit1, bit64, d, dt, ts, t, y,
              c, vc, l1, bin, vbin, tb, b, mb, lb, tt, tx, mt, lt, e, st, j, g, p, ls, pg, mp, mls, mpg, gc)
            VALUES (?, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808,
              18446744073709551615, 1, '12345678901234567890123456789012345.123456789012345678901234567891', 99999.999,
              3.4e38, 2.2250738585072014e-308, b'1', b'1000000000000000000000000000000000000000000000000000000000000001',
              '1000-01-01', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.123456', '-838:59:59.000000', 2155,
              'ab', CONCAT('Emoji 😀 ñ ', ?), 'café', x'00FF00FF', x'', x'00', REPEAT(x'AB', ?), REPEAT(x'CD', 70000),
              REPEAT(x'EF', 2000000), 'tiny ☃', REPEAT('t', 1000), REPEAT('m', 70000), REPEAT('é', 1000000),
              'medium', 'red,blue', '{"b": [1, 2, {"c": null}], "a": "ü🛒", "n": 1.50}',
              ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'), POINT(1.5, -2.25), ST_GeomFromText('LINESTRING(0 0, 1 1)'),
              ST_GeomFromText('POLYGON((0 0,4 0,4 4,0 0))'), ST_GeomFromText('MULTIPOINT((0 0), (1 1))'),
              ST_GeomFromText('MULTILINESTRING((0 0, 1 1), (2 2, 3 3))'),
              ST_GeomFromText('MULTIPOLYGON(((0 0, 4 0, 4 4, 0 0)), ((5 5, 6 5, 6 6, 5 5)))'),
              ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1), LINESTRING(0 0, 2 2))'))""";
    private static final String COMPARED = "id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, boo, dec65, du, HEX(f) AS f, dbl, bit1 + 0, "
            + "HEX(bit64), d, dt, ts, t, y, c, HEX(vc), HEX(l1), HEX(bin), HEX(vbin), HEX(tb), MD5(b), MD5(mb), MD5(lb), LENGTH(lb), "
            + "HEX(tt), MD5(tx), MD5(mt), MD5(lt), CHAR_LENGTH(lt), e, st, CAST(j AS CHAR), ST_AsText(g), ST_AsText(p), ST_AsText(ls), "
            + "ST_AsText(pg), ST_AsText(mp), ST_AsText(mls), ST_AsText(mpg), ST_AsText(gc), gen_virtual, gen_stored";

    private static void insert(Connection c, int from, int to) throws Exception {
        try (Statement st = c.createStatement()) {
            st.execute("SET time_zone = '+05:30'"); // TIMESTAMP values must still arrive as the same instants
        }
        try (java.sql.PreparedStatement ps = c.prepareStatement(INSERT)) {
            for (int id = from; id <= to; id++) {
                ps.setInt(1, id);
                ps.setInt(2, id);
                ps.setInt(3, id * 10);
                ps.executeUpdate();
            }
        }
    }

    private static List<List<String>> rows(Connection c) throws Exception {
        List<List<String>> rows = new java.util.ArrayList<>();
        try (Statement st = c.createStatement()) {
            st.execute("SET time_zone = '-08:00'");
            try (ResultSet rs = st.executeQuery("SELECT " + COMPARED + " FROM types ORDER BY id")) {
                int n = rs.getMetaData().getColumnCount();
                while (rs.next()) {
                    List<String> row = new java.util.ArrayList<>();
                    for (int k = 1; k <= n; k++) {
                        row.add(rs.getString(k));
                    }
                    rows.add(row);
                }
            }
        }
        return rows;
    }

    /**
     * MySQL 8.4's type list through the copy and the binlog stream, as {@code MariaDbTypeFidelityIT} does for MariaDB
     * 10.11: rows 1-20 copied, 101-120 inserted while streaming, some updated and deleted then; compared column by column
     * in a form that shows every byte.
     */
    @Test
    void everyMySql84TypeRoundTripsThroughCopyAndStream() throws Exception {
        requireDocker();
        try (MySQLContainer source = new MySQLContainer("mysql:8.4").withUsername("root");
             MySQLContainer target = new MySQLContainer("mysql:8.4").withUsername("root")) {
            source.start();
            target.start();
            String db = source.getDatabaseName();
            try (Connection c = java.sql.DriverManager.getConnection(source.getJdbcUrl(), "root", source.getPassword());
                 Statement st = c.createStatement()) {
                st.execute(TYPES);
                insert(c, 1, 20);
            }
            io.migrator.core.plan.Plan plan = new io.migrator.core.plan.PlanLoader(java.util.Map.of("PW", source.getPassword())).parse("m.yaml", """
                    name: mysql-types
                    source: {engine: mysql, host: %s, port: %d, user: root, password: "${env:PW}", database: %s}
                    target: {engine: mysql, host: %s, port: %d, user: root, password: "${env:PW}", database: %s}
                    """.formatted(source.getHost(), source.getFirstMappedPort(), db, target.getHost(), target.getFirstMappedPort(), db),
                    java.nio.file.Path.of("."));
            try (io.migrator.connectors.testing.MigrationHarness run = new io.migrator.connectors.testing.MigrationHarness(plan)) {
                run.awaitPhase(io.migrator.core.state.Phase.STREAMING);
                try (Connection c = java.sql.DriverManager.getConnection(source.getJdbcUrl(), "root", source.getPassword());
                     Statement st = c.createStatement()) {
                    insert(c, 101, 120);
                    st.execute("UPDATE types SET dec65 = -dec65, bit64 = b'0111', st = '', j = JSON_OBJECT('z', 1), vc = CONCAT(vc, '🚀'), "
                            + "ts = '1970-01-01 00:00:01.000001', t = '00:00:00', p = POINT(-1, 1), lt = REPEAT('ß', 3) WHERE id IN (3, 103)");
                    st.execute("DELETE FROM types WHERE id IN (4, 104)");
                }
                run.awaitCaughtUp();
            }
            try (Connection s = java.sql.DriverManager.getConnection(source.getJdbcUrl(), "root", source.getPassword());
                 Connection t = java.sql.DriverManager.getConnection(target.getJdbcUrl(), "root", target.getPassword())) {
                List<List<String>> expected = rows(s);
                assertThat(expected).hasSize(38);
                assertThat(rows(t)).containsExactlyElementsOf(expected);
            }
        }
    }
}
