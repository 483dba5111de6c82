package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Two plans with the same name from two source databases into one target database: the second is refused before it
 * writes anything (it would have resumed the first one's state and streamed its own binlog from the first one's
 * checkpoint), and `migrator complete` of the first frees the name on both sides.
 */
@ExtendWith(SandboxExtension.class)
class MariaDbMigrationNameIT {
    private MariaDbFixture first;
    private MariaDbFixture second;

    @AfterEach
    void drop() {
        for (MariaDbFixture f : new MariaDbFixture[] {first, second}) {
            if (f != null) {
                f.drop();
            }
        }
    }

    @Test
    void aFirstRunThatStoppedBetweenItsTwoRecordsIsFinishedNotRefused(SandboxServers servers) throws Exception {
        first = new MariaDbFixture(servers, "namec");
        try (Connection c = first.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id INT PRIMARY KEY, total INT)");
            st.execute("INSERT INTO orders SELECT seq, seq FROM seq_1_to_100");
        }
        Plan a = first.plan("");
        try (MigrationHarness run = new MigrationHarness(a)) {
            run.awaitPhase(Phase.STREAMING);
        }
        String id;
        try (Connection t = first.target(); Statement st = t.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT id FROM migrator.identity WHERE migration = '" + a.name() + "'")) {
                assertThat(rs.next()).isTrue();
                id = rs.getString(1);
            }
            st.execute("DELETE FROM migrator.identity WHERE migration = '" + a.name() + "'"); // as if the run stopped before it
        }
        try (Connection c = first.source(); Statement st = c.createStatement()) {
            st.execute("UPDATE orders SET total = 0 WHERE id = 1");
        }
        MigrationHarness.streamOnce(a);
        try (Connection t = first.target(); Statement st = t.createStatement();
             ResultSet rs = st.executeQuery("SELECT id FROM migrator.identity WHERE migration = '" + a.name() + "'")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).as("the source's record wrote the missing one").isEqualTo(id);
        }
        try (Connection s = first.source(); Connection t = first.target()) {
            assertThat(MariaDbFixture.rows(t, "orders", "id")).isEqualTo(MariaDbFixture.rows(s, "orders", "id"));
        }
    }

    @Test
    void aSecondPlanOfTheSameNameFromAnotherSourceIsRefusedUntilTheFirstIsCompleted(SandboxServers servers) throws Exception {
        first = new MariaDbFixture(servers, "namea");
        second = new MariaDbFixture(servers, "nameb");
        for (MariaDbFixture f : new MariaDbFixture[] {first, second}) {
            try (Connection c = f.source(); Statement st = c.createStatement()) {
                st.execute("CREATE TABLE orders (id INT PRIMARY KEY, total INT)");
                st.execute("INSERT INTO orders SELECT seq, seq FROM seq_1_to_500");
            }
        }
        Plan a = first.plan("");
        MigrationHarness.streamOnce(a);
        try (Connection c = second.source(); Statement st = c.createStatement()) {
            st.execute("UPDATE orders SET total = -7 WHERE id = 7"); // would land in the first migration's table
        }
        Plan b = new PlanLoader(Map.of("PW", first.source.password())).parse("b.yaml", """
                name: %s
                source: {engine: mariadb, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s}
                target: {engine: mariadb, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s}
                """.formatted(a.name(), first.source.host(), first.source.port(), first.source.user(), second.database,
                first.target.host(), first.target.port(), first.target.user(), first.database), Path.of("."));
        try (MigrationHarness run = new MigrationHarness(b)) {
            Throwable failure = run.awaitFailure();
            assertThat(failure).isInstanceOf(MigratorException.class);
            assertThat(((MigratorException) failure).code()).isEqualTo(ErrorCode.MIGRATION_NAME_TAKEN);
            assertThat(failure.getMessage()).contains("the target holds migration " + a.name() + " started from mariadb://")
                    .contains("/" + first.database + ", which this source").contains("/" + second.database + ") does not know");
        }
        try (Connection s = first.source(); Connection t = first.target()) {
            assertThat(MariaDbFixture.rows(t, "orders", "id")).isEqualTo(MariaDbFixture.rows(s, "orders", "id"));
        }
        try (Connection t = first.target(); Statement st = t.createStatement();
             ResultSet rs = st.executeQuery("SELECT phase FROM migrator.state WHERE migration = '" + a.name() + "'")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).as("the first migration's state is untouched").isEqualTo("STREAMING");
        }

        var connector = io.migrator.core.spi.EngineConnectors.discover().forEngine(a.source().engine());
        try (var source = connector.openSource(a); var target = connector.openTarget(a)) {
            assertThat(source.release(a.name())).contains("migration id in `migrator`.`migrations`");
            target.forget();
        }
        try (Connection t = first.target(); Statement st = t.createStatement()) {
            st.execute("DROP TABLE orders"); // the second plan starts afresh into the same database
        }
        MigrationHarness.streamOnce(b);
        try (Connection s = second.source(); Connection t = first.target()) {
            assertThat(MariaDbFixture.rows(t, "orders", "id")).isEqualTo(MariaDbFixture.rows(s, "orders", "id"));
        }
    }
}
