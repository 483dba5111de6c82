package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.error.MigratorException;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Additive DDL on the source reaches the target while streaming; other DDL stops the stream with a remedy. */
class MariaDbDdlIT extends MariaDbFixtureBase {
    @Test
    void additiveDdlIsReplayedAndDestructiveDdlStopsTheStream(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "ddl");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE `odd table` (id INT PRIMARY KEY, v VARCHAR(20))");
            st.execute("INSERT INTO `odd table` VALUES (1, 'a'), (2, 'b')");
        }
        try (MigrationHarness run = new MigrationHarness(fixture.plan("tables: {exclude: [\"scratch*\"]}"))) {
            run.awaitPhase(Phase.STREAMING);
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("ALTER TABLE `odd table` ADD COLUMN extra VARCHAR(20) NOT NULL DEFAULT 'd'");
                st.execute("ALTER TABLE `odd table` ADD INDEX by_v (v)");
                st.execute("INSERT INTO `odd table` VALUES (3, 'c', 'given')");
                st.execute("UPDATE `odd table` SET extra = 'changed' WHERE id = 1");
                st.execute("CREATE TABLE added (id INT PRIMARY KEY, x INT)");
                st.execute("INSERT INTO added VALUES (1, 10), (2, 20)");
                st.execute("CREATE TABLE scratch_1 (id INT PRIMARY KEY)");
            }
            run.awaitCaughtUp();
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                assertThat(MariaDbFixture.rows(t, "odd table", "id")).containsExactlyElementsOf(MariaDbFixture.rows(s, "odd table", "id"));
                assertThat(MariaDbFixture.rows(t, "added", "id")).containsExactlyElementsOf(MariaDbFixture.rows(s, "added", "id"));
                assertThat(MariaDbFixture.rows(t, "odd table", "id").get(0)).containsExactly("1", "a", "changed");
                try (Statement st = t.createStatement(); ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM information_schema.STATISTICS "
                        + "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'odd table' AND INDEX_NAME = 'by_v'")) {
                    rs.next();
                    assertThat(rs.getInt(1)).as("index by_v on the target").isEqualTo(1);
                }
                try (Statement st = t.createStatement(); ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM information_schema.TABLES "
                        + "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'scratch_1'")) {
                    rs.next();
                    assertThat(rs.getInt(1)).as("an excluded table is not created").isZero();
                }
            }
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("ALTER TABLE `odd table` DROP COLUMN extra");
            }
            Throwable failure = run.awaitFailure();
            assertThat(failure).isInstanceOf(MigratorException.class);
            assertThat(failure.getMessage()).contains("does not replay").contains("DROP COLUMN extra");
            assertThat(((MigratorException) failure).remedy()).contains("apply the same change to the target by hand");
            assertThat(run.target.loadState().orElseThrow().phase()).isEqualTo(Phase.FAILED);
        }
        // the remedy, followed: the same change on the target, a restart; the stream steps over the statement and goes on
        try (Connection t = fixture.target(); Statement st = t.createStatement()) {
            st.execute("ALTER TABLE `odd table` DROP COLUMN extra");
        }
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("INSERT INTO `odd table` VALUES (4, 'after the fix')");
            st.execute("TRUNCATE TABLE added"); // replayed, not refused
            st.execute("INSERT INTO added VALUES (3, 30)");
        }
        try (MigrationHarness again = new MigrationHarness(fixture.plan("tables: {exclude: [\"scratch*\"]}"))) {
            again.awaitPhase(Phase.STREAMING);
            again.awaitCaughtUp();
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                assertThat(MariaDbFixture.rows(t, "odd table", "id")).containsExactlyElementsOf(MariaDbFixture.rows(s, "odd table", "id"));
                assertThat(MariaDbFixture.rows(t, "added", "id")).containsExactly(List.of("3", "30"));
            }
        }
    }
}
