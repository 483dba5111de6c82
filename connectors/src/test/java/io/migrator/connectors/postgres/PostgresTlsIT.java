package io.migrator.connectors.postgres;

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
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS to PostgreSQL: while a migration with verify-full and a client certificate streams, every connection it holds on
 * either server — pools, heartbeat, the logical replication walsender — is encrypted and presented the certificate
 * (pg_stat_ssl); the target then equals the source. A wrong CA is refused with the key to change, on the replication
 * connection too (its records are read through {@link BufferedTlsSocketFactory}).
 */
@ExtendWith(SandboxExtension.class)
class PostgresTlsIT {
    private PostgresFixture fixture;

    @TempDir
    Path tmp;

    @AfterEach
    void cleanUp() throws Exception {
        if (fixture != null) {
            fixture.close();
        }
    }

    private Plan plan(String sourceTls, String targetTls) {
        String yaml = """
                name: %s
                source: {engine: postgresql, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s, tls: %s}
                target: {engine: postgresql, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s, tls: %s}
                """.formatted(fixture.db.replace('_', '-'), fixture.source.host(), fixture.source.port(), fixture.source.user(), fixture.db,
                sourceTls, fixture.target.host(), fixture.target.port(), fixture.target.user(), fixture.db, targetTls);
        return new PlanLoader(Map.of("PW", fixture.source.password())).parse("it.yaml", yaml, Path.of("."));
    }

    /** [connections, encrypted with a client certificate, walsenders] of the fixture's database, other than this query's own. */
    private long[] connections(SandboxEndpoint side) throws Exception {
        try (Connection c = PostgresFixture.connect(side, "postgres"); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*), count(*) FILTER (WHERE s.ssl AND s.client_dn IS NOT NULL), "
                     + "count(*) FILTER (WHERE a.backend_type = 'walsender') FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                     + "WHERE a.datname = '" + fixture.db + "' AND a.pid <> pg_backend_pid()")) {
            rs.next();
            return new long[] {rs.getLong(1), rs.getLong(2), rs.getLong(3)};
        }
    }

    @Test
    void everyConnectionOfAStreamingMigrationIsVerifiedTlsWithTheClientCertificate(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "ptls");
        SandboxTls tls = SandboxTls.ensure(servers.sandbox().dir(), System.out);
        for (Connection c : List.of(fixture.source(), fixture.target())) {
            try (c; Statement st = c.createStatement()) {
                st.execute("CREATE TABLE orders (id bigint PRIMARY KEY, note text NOT NULL)");
            }
        }
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("INSERT INTO orders SELECT g, 'seed-' || g FROM generate_series(1, 2000) g");
        }
        String verified = "{mode: verify-full, ca: '%s', cert: '%s', key: '%s'}".formatted(tls.ca(), tls.clientCert(), tls.clientKey());
        Plan plan = plan(verified, verified);
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("INSERT INTO orders SELECT g, 'streamed-' || g FROM generate_series(2001, 2500) g");
                st.execute("UPDATE orders SET note = 'changed' WHERE id % 7 = 0");
                st.execute("DELETE FROM orders WHERE id % 11 = 0");
            }
            run.awaitCaughtUp();
            long[] source = connections(fixture.source);
            long[] target = connections(fixture.target);
            assertThat(source[0]).as("migrator's connections to the source").isPositive();
            assertThat(source[2]).as("the replication connection").isEqualTo(1);
            assertThat(source[1]).as("source connections with TLS and the client certificate").isEqualTo(source[0]);
            assertThat(target[0]).as("migrator's connections to the target").isPositive();
            assertThat(target[1]).as("target connections with TLS and the client certificate").isEqualTo(target[0]);
        }
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            List<String> rows = PostgresFixture.rows(s, "orders", "id");
            assertThat(rows).hasSize(2500 - 2500 / 11);
            assertThat(PostgresFixture.rows(t, "orders", "id")).isEqualTo(rows);
        }
    }

    @Test
    void aCaThatDidNotSignTheServersCertificateIsRefusedNamingTheKey(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "ptlsca");
        Path wrongCa = SandboxTls.makeCa(Files.createDirectories(tmp.resolve("other-ca")), "not the sandbox CA");
        Plan plan = plan("disable", "{mode: verify-ca, ca: '" + wrongCa + "'}");
        assertThatThrownBy(() -> new PostgresConnector().probe(plan.target(), Role.TARGET, Duration.ofSeconds(10)))
                .isInstanceOfSatisfying(MigratorException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.CANNOT_CONNECT);
                    assertThat(e.getMessage()).contains("the target postgresql at " + fixture.target.host() + ":" + fixture.target.port())
                            .contains("no authority in target.tls.ca (" + wrongCa + ") signed");
                    assertThat(e.remedy()).contains("set target.tls.ca");
                });
        // the replication connection, whose TLS goes through BufferedTlsSocketFactory, checks the certificate alike
        Plan replication = plan("{mode: verify-ca, ca: '" + wrongCa + "'}", "disable");
        assertThatThrownBy(() -> PostgresCopy.replicationConnection(replication.source(), fixture.db, "migrator-test").close())
                .isInstanceOf(java.sql.SQLException.class).hasStackTraceContaining("PKIX");
        // disable is plain text on a server that offers TLS
        assertThat(new PostgresConnector().probe(plan.source(), Role.SOURCE, Duration.ofSeconds(10)).product()).isEqualTo("PostgreSQL");
    }
}
