package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A restart onto a target that was reset while the migration's bookkeeping survived (MySQL/MariaDB keep it in a database
 * of their own): the worker stops before it writes anything, naming the tables that are gone or emptied, instead of
 * streaming changes onto rows that are not there.
 */
@ExtendWith(SandboxExtension.class)
class MariaDbResumeCheckIT {
    private MariaDbFixture fixture;

    @AfterEach
    void drop() {
        if (fixture != null) {
            fixture.drop();
        }
    }

    private Plan streamedOnce(SandboxServers servers, String prefix) throws Exception {
        fixture = new MariaDbFixture(servers, prefix);
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id INT PRIMARY KEY, total INT)");
            st.execute("INSERT INTO orders SELECT seq, seq * 3 FROM seq_1_to_2000");
            st.execute("CREATE TABLE `odd name` (id INT PRIMARY KEY, note VARCHAR(20))");
            st.execute("INSERT INTO `odd name` SELECT seq, 'n' FROM seq_1_to_50");
        }
        Plan plan = fixture.plan("");
        MigrationHarness.streamOnce(plan);
        return plan;
    }

    @Test
    void aRestartAfterTheTargetTablesWereDroppedStopsBeforeWritingAnything(SandboxServers servers) throws Exception {
        Plan plan = streamedOnce(servers, "stale");
        try (Connection t = fixture.target(); Statement st = t.createStatement()) {
            st.execute("DROP TABLE `odd name`");
        }
        try (Connection s = fixture.source(); Statement st = s.createStatement()) {
            st.execute("UPDATE `odd name` SET note = 'later' WHERE id = 7"); // a change the stream would try to apply
        }
        Throwable failure;
        try (MigrationHarness run = new MigrationHarness(plan)) {
            failure = run.awaitFailure();
            assertThat(run.migration.status().phase()).isEqualTo(Phase.FAILED);
        }
        assertThat(failure).isInstanceOf(MigratorException.class);
        MigratorException stale = (MigratorException) failure;
        assertThat(stale.code()).isEqualTo(ErrorCode.STALE_STATE);
        assertThat(stale.getMessage()).contains("migration " + plan.name() + " exists on the target (phase STREAMING")
                .contains("missing there: " + fixture.database + ".odd name");
        assertThat(stale.remedy()).contains("migrator complete");
        try (Connection t = fixture.target(); Statement st = t.createStatement()) {
            assertThat(exists(st, "odd name")).as("the worker created nothing").isFalse();
            try (ResultSet rs = st.executeQuery("SELECT phase FROM migrator.state WHERE migration = '" + plan.name() + "'")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).as("the stored state is left as it was, for complete or a restore").isEqualTo("STREAMING");
            }
        }
    }

    @Test
    void aRestartAfterEveryCopiedTableWasEmptiedStopsButOneEmptiedTableIsTheStreamsOwnBusiness(SandboxServers servers) throws Exception {
        Plan plan = streamedOnce(servers, "emptied");
        try (Connection t = fixture.target(); Statement st = t.createStatement()) {
            st.execute("DELETE FROM `odd name`"); // one table: as a replayed TRUNCATE leaves it
        }
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            assertThat(run.failure()).isNull();
        }
        try (Connection t = fixture.target(); Statement st = t.createStatement()) {
            st.execute("DELETE FROM orders"); // now every table the copy filled is empty while the source has rows
        }
        try (MigrationHarness run = new MigrationHarness(plan)) {
            Throwable failure = run.awaitFailure();
            assertThat(failure).isInstanceOf(MigratorException.class);
            assertThat(((MigratorException) failure).code()).isEqualTo(ErrorCode.STALE_STATE);
            assertThat(failure.getMessage()).contains("every table it copied rows into is empty there while the source has rows");
        }
    }

    @Test
    void aRestartWhoseBinlogWasPurgedStopsInsteadOfSkippingTheChangesInBetween(SandboxServers servers) throws Exception {
        Plan plan = streamedOnce(servers, "purged");
        try (Connection s = fixture.source(); Statement st = s.createStatement()) {
            st.execute("FLUSH BINARY LOGS");
            st.execute("UPDATE orders SET total = -1 WHERE id = 5"); // only in a file about to be purged
            st.execute("FLUSH BINARY LOGS");
            String newest;
            try (ResultSet rs = st.executeQuery("SHOW MASTER STATUS")) {
                rs.next();
                newest = rs.getString(1);
            }
            st.execute("PURGE BINARY LOGS TO '" + newest + "'");
        }
        try (MigrationHarness run = new MigrationHarness(plan)) {
            Throwable failure = run.awaitFailure();
            assertThat(failure).isInstanceOf(MigratorException.class);
            MigratorException lost = (MigratorException) failure;
            assertThat(lost.code()).isEqualTo(ErrorCode.SOURCE_POSITION_LOST);
            assertThat(lost.getMessage()).contains("no longer has the binlog file").contains("purged");
            assertThat(lost.remedy()).contains("migrator complete").contains("binlog_expire_logs_seconds");
        }
        try (Connection t = fixture.target(); Statement st = t.createStatement();
             ResultSet rs = st.executeQuery("SELECT total FROM orders WHERE id = 5")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getInt(1)).as("nothing was streamed past the gap").isEqualTo(15);
        }
    }

    private static boolean exists(Statement st, String table) throws Exception {
        try (ResultSet rs = st.executeQuery("SHOW TABLES LIKE '" + table + "'")) {
            return rs.next();
        }
    }
}
