package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Two plans with the same name from one source database into two target databases: the second is refused before it
 * touches anything (its first start used to drop the first one's slot as "left by an interrupted start"), and the first
 * resumes as if nothing happened.
 */
class PostgresMigrationNameIT extends PostgresFixtureBase {
    @Test
    void aSecondPlanOfTheSameNameIntoAnotherTargetIsRefusedAndTheFirstKeepsItsSlot(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgname");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE items (id int PRIMARY KEY, note text)");
            st.execute("INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 300) g");
        }
        Plan first = fixture.plan("");
        MigrationHarness.streamOnce(first);
        String other = fixture.db + "_b";
        try (Connection c = PostgresFixture.connect(fixture.target, "postgres"); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + other);
        }
        try {
            Plan second = new PlanLoader(Map.of("PW", fixture.source.password())).parse("second.yaml", """
                    name: %s
                    source: {engine: postgresql, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s}
                    target: {engine: postgresql, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s}
                    """.formatted(first.name(), fixture.source.host(), fixture.source.port(), fixture.source.user(), fixture.db,
                    fixture.target.host(), fixture.target.port(), fixture.target.user(), other), Path.of("."));
            try (MigrationHarness run = new MigrationHarness(second)) {
                Throwable failure = run.awaitFailure();
                assertThat(failure).isInstanceOf(MigratorException.class);
                assertThat(((MigratorException) failure).code()).isEqualTo(ErrorCode.MIGRATION_NAME_TAKEN);
                assertThat(failure.getMessage()).contains("the source already feeds migration " + first.name() + " into postgresql://")
                        .contains("/" + fixture.db + ", not into this target");
            }
            try (Connection c = PostgresFixture.connect(fixture.target, other); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT to_regclass('public.items') IS NULL")) {
                rs.next();
                assertThat(rs.getBoolean(1)).as("the refused plan created nothing on its target").isTrue();
            }
        } finally {
            try (Connection c = PostgresFixture.connect(fixture.target, "postgres"); Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + other + " WITH (FORCE)");
            }
        }
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("UPDATE items SET note = 'after the refusal' WHERE id = 3");
        }
        MigrationHarness.streamOnce(first);
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            assertThat(PostgresFixture.rows(t, "items", "id")).isEqualTo(PostgresFixture.rows(s, "items", "id"));
        }
    }
}
