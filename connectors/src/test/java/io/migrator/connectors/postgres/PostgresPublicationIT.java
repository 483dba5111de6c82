package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/**
 * The publication that feeds the slot decides which changes the source keeps for the migration. One left by an earlier
 * attempt with the plan's tables but not every kind of change is made afresh at the start, not reused; one changed while
 * the worker was stopped stops the restart, since the source has left those changes out of the slot for good.
 */
class PostgresPublicationIT extends PostgresFixtureBase {
    @Test
    void aStaleInsertOnlyPublicationIsMadeAfreshAndAChangedOneStopsTheRestart(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgpub");
        Plan plan = fixture.plan("");
        String publication = PostgresSource.slotName(plan.name());
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE items (id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 50) g");
            // left by an earlier attempt, or made by hand: the plan's table, but only its inserts
            st.execute("CREATE PUBLICATION " + publication + " FOR TABLE items WITH (publish = 'insert')");
        }
        try (MigrationHarness harness = new MigrationHarness(plan)) {
            harness.awaitPhase(Phase.STREAMING);
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("UPDATE items SET v = 'changed' WHERE id <= 10");
                st.execute("DELETE FROM items WHERE id > 40");
                st.execute("INSERT INTO items VALUES (100, 'new')");
            }
            harness.awaitCaughtUp();
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                assertThat(PostgresFixture.rows(t, "items", "id")).as("updates and deletes arrived").hasSize(41)
                        .isEqualTo(PostgresFixture.rows(s, "items", "id"));
            }
            assertThat(publishes(publication)).isEqualTo("t t t t");

            // idle plan tables: the heartbeat keeps the applied position and lag moving, and status shows the WAL the slot holds
            String before = harness.migration.status().applied().position();
            Thread.sleep(4_000);
            var idle = harness.migration.status();
            assertThat(idle.applied().position()).as("heartbeats advance the applied position while the tables are idle").isNotEqualTo(before);
            assertThat(idle.lag().seconds()).as("lag stays current on an idle database").isNotNull().isLessThan(3.0);
            assertThat(idle.lag().retainedBytes()).as("the WAL the slot holds for this migration").isNotNull().isPositive();
        }

        // stopped; meanwhile someone turns deletes off, and a delete happens
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("ALTER PUBLICATION " + publication + " SET (publish = 'insert, update')");
            st.execute("DELETE FROM items WHERE id = 1");
        }
        try (MigrationHarness harness = new MigrationHarness(plan)) {
            Throwable failure = harness.awaitFailure();
            assertThat(failure).isInstanceOf(MigratorException.class).hasMessageContaining("the publication " + publication)
                    .hasMessageContaining("does not publish delete, truncate");
            assertThat(((MigratorException) failure).code()).isEqualTo(ErrorCode.PREFLIGHT_FAILED);
            assertThat(((MigratorException) failure).remedy()).contains("ALTER PUBLICATION").contains("validate PLAN --repair");
        }
        try (Connection t = fixture.target(); Statement st = t.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM items WHERE id = 1")) {
            rs.next();
            assertThat(rs.getInt(1)).as("the delete the publication dropped is visibly missing, not silently skipped past").isEqualTo(1);
        }
    }

    @Test
    void aPublicationWithAColumnListIsMadeAfresh(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgpubcols");
        Plan plan = fixture.plan("");
        String publication = PostgresSource.slotName(plan.name());
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE items (id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 20) g");
            st.execute("CREATE PUBLICATION " + publication + " FOR TABLE items (id)"); // leaves column v out of the stream
        }
        try (MigrationHarness harness = new MigrationHarness(plan)) {
            harness.awaitPhase(Phase.STREAMING);
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("UPDATE items SET v = 'changed' WHERE id <= 5");
                st.execute("INSERT INTO items VALUES (21, 'new')");
            }
            harness.awaitCaughtUp();
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                assertThat(PostgresFixture.rows(t, "items", "id")).hasSize(21).isEqualTo(PostgresFixture.rows(s, "items", "id"));
            }
        }
    }

    private String publishes(String publication) throws Exception {
        try (Connection c = fixture.source(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT concat_ws(' ', pubinsert, pubupdate, pubdelete, pubtruncate) FROM pg_publication WHERE pubname = '" + publication + "'")) {
            rs.next();
            return rs.getString(1).replace("true", "t").replace("false", "f");
        }
    }
}
