package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.spi.Role;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.SandboxTls;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS to MariaDB: a migration whose login may only connect over TLS with a client certificate the sandbox CA signed
 * ({@code REQUIRE X509}) copies and streams, so every connection it opens (pools, heartbeat, preflight, Debezium's JDBC
 * connection and its binlog client) verified the server and presented the certificate; a wrong CA is refused with the key
 * to change.
 */
@ExtendWith(SandboxExtension.class)
class MariaDbTlsIT {
    private static final String USER = "tls_only";
    private MariaDbFixture fixture;

    @TempDir
    Path tmp;

    @AfterEach
    void cleanUp() {
        if (fixture != null) {
            fixture.drop();
            for (SandboxEndpoint e : List.of(fixture.source, fixture.target)) {
                try (Connection c = MariaDbFixture.connect(e); Statement st = c.createStatement()) {
                    st.execute("DROP USER IF EXISTS '" + USER + "'@'%'");
                } catch (SQLException ignored) {
                    // best effort
                }
            }
        }
    }

    private Plan plan(String tls) {
        String yaml = """
                name: %s
                source: {engine: mariadb, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s, tls: %s}
                target: {engine: mariadb, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s, tls: %s}
                """.formatted(fixture.database.replace('_', '-'), fixture.source.host(), fixture.source.port(), USER, fixture.database, tls,
                fixture.target.host(), fixture.target.port(), USER, fixture.database, tls);
        return new PlanLoader(Map.of("PW", fixture.source.password())).parse("it.yaml", yaml, Path.of("."));
    }

    @Test
    void copiesAndStreamsWithALoginThatOnlyTlsWithAClientCertificateMayUse(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "mtls");
        SandboxTls tls = SandboxTls.ensure(servers.sandbox().dir(), System.out);
        for (SandboxEndpoint e : List.of(fixture.source, fixture.target)) {
            try (Connection c = MariaDbFixture.connect(e); Statement st = c.createStatement()) {
                st.execute("CREATE USER IF NOT EXISTS '" + USER + "'@'%' IDENTIFIED BY '" + e.password() + "' REQUIRE X509");
                st.execute("GRANT ALL PRIVILEGES ON *.* TO '" + USER + "'@'%'");
            }
        }
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, note VARCHAR(200) NOT NULL)");
            st.execute("INSERT INTO orders SELECT seq, CONCAT('seed-', seq) FROM seq_1_to_2000");
        }
        String verified = "{mode: verify-full, ca: '%s', cert: '%s', key: '%s'}".formatted(tls.ca(), tls.clientCert(), tls.clientKey());
        // without the certificate the login is refused: the test would pass on plain connections otherwise
        assertThatThrownBy(() -> new MySqlFamilyConnector().probe(plan("{mode: verify-full, ca: '" + tls.ca() + "'}").source(), Role.SOURCE,
                Duration.ofSeconds(10))).isInstanceOf(MigratorException.class);

        Plan plan = plan(verified);
        assertThat(new MySqlFamilyConnector().probe(plan.source(), Role.SOURCE, Duration.ofSeconds(10)).product()).isEqualTo("MariaDB");
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("INSERT INTO orders SELECT seq, CONCAT('streamed-', seq) FROM seq_2001_to_2500");
                st.execute("UPDATE orders SET note = 'changed' WHERE id % 7 = 0");
                st.execute("DELETE FROM orders WHERE id % 11 = 0");
            }
            run.awaitCaughtUp();
        }
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            List<List<String>> rows = MariaDbFixture.rows(s, "orders", "id");
            assertThat(rows).hasSize(2500 - 2500 / 11);
            assertThat(MariaDbFixture.rows(t, "orders", "id")).isEqualTo(rows);
        }
    }

    @Test
    void aCaThatDidNotSignTheServersCertificateIsRefusedNamingTheKey(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "mtlsca");
        Path other = Files.createDirectories(tmp.resolve("other-ca"));
        Path wrongCa = SandboxTls.makeCa(other, "not the sandbox CA");
        Plan plan = new PlanLoader(Map.of("PW", fixture.source.password())).parse("it.yaml", """
                name: wrong-ca
                source: {engine: mariadb, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s, tls: {ca: '%s'}}
                target: {engine: mariadb, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s}
                """.formatted(fixture.source.host(), fixture.source.port(), fixture.source.user(), fixture.database, wrongCa,
                fixture.target.host(), fixture.target.port(), fixture.target.user(), fixture.database), Path.of("."));
        assertThatThrownBy(() -> new MySqlFamilyConnector().probe(plan.source(), Role.SOURCE, Duration.ofSeconds(10)))
                .isInstanceOfSatisfying(MigratorException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.CANNOT_CONNECT);
                    assertThat(e.getMessage()).contains("the source mariadb at " + fixture.source.host() + ":" + fixture.source.port())
                            .contains("no authority in source.tls.ca (" + wrongCa + ") signed");
                    assertThat(e.remedy()).contains("set source.tls.ca");
                });
        // the pools say the same (the worker's first connection)
        assertThatThrownBy(() -> MySqlPools.open(plan.source(), "migrator-source", 1, "SELECT 1"))
                .isInstanceOfSatisfying(MigratorException.class, e -> assertThat(e.getMessage()).contains("no authority in source.tls.ca"));
    }
}
