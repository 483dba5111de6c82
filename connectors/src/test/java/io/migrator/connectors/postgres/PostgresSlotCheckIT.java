package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/**
 * A restart never streams from a slot that lost the migration's changes: dropped (and, as another plan of the same name
 * would, made again) or advanced past the checkpoint while no worker ran. The worker stops with SOURCE_POSITION_LOST and
 * its remedy instead of streaming from the new slot's own start and skipping the changes in between.
 */
class PostgresSlotCheckIT extends PostgresFixtureBase {
    private Plan streamedOnce(SandboxServers servers, String prefix) throws Exception {
        fixture = new PostgresFixture(servers, prefix);
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE items (id int PRIMARY KEY, note text)");
            st.execute("INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 500) g");
        }
        Plan plan = fixture.plan("");
        MigrationHarness.streamOnce(plan);
        return plan;
    }

    private MigratorException restartFails(Plan plan) throws Exception {
        try (MigrationHarness run = new MigrationHarness(plan)) {
            Throwable failure = run.awaitFailure();
            assertThat(failure).isInstanceOf(MigratorException.class);
            return (MigratorException) failure;
        }
    }

    @Test
    void aSlotDroppedAndMadeAgainWhileNoWorkerRanStopsTheRestart(SandboxServers servers) throws Exception {
        Plan plan = streamedOnce(servers, "pgslot");
        fixture.dropSlot();
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("UPDATE items SET note = 'lost?' WHERE id = 7"); // a change only the dropped slot had
            try (ResultSet rs = st.executeQuery("SELECT 1 FROM pg_create_logical_replication_slot('" + PostgresSource.slotName(plan.name())
                    + "', 'pgoutput')")) {
                assertThat(rs.next()).isTrue(); // what another plan of the same name would do
            }
        }
        MigratorException lost = restartFails(plan);
        assertThat(lost.code()).isEqualTo(ErrorCode.SOURCE_POSITION_LOST);
        assertThat(lost.getMessage()).contains("was confirmed up to").contains("past the migration's checkpoint");
        assertThat(lost.remedy()).contains("migrator complete");
        try (Connection t = fixture.target(); Statement st = t.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT note FROM items WHERE id = 7")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).as("nothing streamed from the new slot").isEqualTo("n7");
        }

        fixture.dropSlot();
        MigratorException gone = restartFails(plan);
        assertThat(gone.code()).isEqualTo(ErrorCode.SOURCE_POSITION_LOST);
        assertThat(gone.getMessage()).contains("no longer exists on the source");
        try (Connection c = fixture.source(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()")) {
            rs.next();
            assertThat(rs.getInt(1)).as("the worker did not make a slot of its own").isZero();
        }
    }

    @Test
    void aSlotAdvancedPastTheCheckpointStopsTheRestartAndAnUntouchedOneResumes(SandboxServers servers)
            throws Exception {
        Plan plan = streamedOnce(servers, "pgadv");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("UPDATE items SET note = 'while stopped' WHERE id = 9");
        }
        MigrationHarness.streamOnce(plan);
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("UPDATE items SET note = 'skipped?' WHERE id = 11");
            st.execute("SELECT pg_replication_slot_advance('" + PostgresSource.slotName(plan.name()) + "', pg_current_wal_lsn())");
        }
        MigratorException lost = restartFails(plan);
        assertThat(lost.code()).isEqualTo(ErrorCode.SOURCE_POSITION_LOST);
        try (Connection t = fixture.target(); Statement st = t.createStatement();
             ResultSet rs = st.executeQuery("SELECT note FROM items WHERE id IN (9, 11) ORDER BY id")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("while stopped");
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("n11");
        }
    }
}
