package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A migration checkpointed by the Debezium-based WAL stream resumes on the pgoutput stream with nothing skipped or
 * repeated. Debezium could checkpoint inside a transaction: its position then names the transaction ({@code txId}),
 * the last applied change's {@code lsn} and the end of the last whole transaction ({@code lsn_commit}). The test writes
 * such a position by hand — the change LSNs read from the slot itself with pg_logical_slot_peek_binary_changes — over a
 * target that holds the first four rows of a ten-row transaction under a marker value: after the restart the other six
 * arrive and the first three keep the marker (applied again, they would read as the source). The fourth, the change at
 * the position's own LSN, is applied again on purpose: several changes can share one LSN (a multi-row insert), so only
 * those below it are known to be on the target.
 */
@Timeout(300)
class PostgresStreamUpgradeIT extends PostgresFixtureBase {
    @Test
    void resumesInsideATransactionFromADebeziumPosition(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgupgrade");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)");
            st.execute("INSERT INTO t SELECT g, 'before' FROM generate_series(1, 10) g");
        }
        Plan plan = fixture.plan("");
        try (MigrationHarness harness = new MigrationHarness(plan)) {
            harness.awaitPhase(Phase.STREAMING);
            harness.awaitCaughtUp();
        }
        String slot = PostgresSource.slotName(plan.name());
        String checkpoint;
        try (Connection t = fixture.target(); Statement st = t.createStatement();
             ResultSet rs = st.executeQuery("SELECT position FROM migrator.checkpoint WHERE migration = '" + plan.name() + "'")) {
            assertThat(rs.next()).isTrue();
            checkpoint = rs.getString(1);
        }
        long lastCommit = PostgresPosition.offset(new io.migrator.core.change.SourcePosition(checkpoint)).get("lsn_commit") instanceof Number n
                ? n.longValue() : 0;
        assertThat(lastCommit).as("the stored position is at a transaction's end: %s", checkpoint).isPositive();

        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            for (int id = 11; id <= 20; id++) {
                st.execute("INSERT INTO t VALUES (" + id + ", 'source')");
            }
            c.commit();
        }
        // the changes of that transaction as the slot sends them: their LSNs and the transaction's xid
        List<Long> inserts = new ArrayList<>();
        long xid = -1;
        try (Connection c = fixture.source()) {
            for (int attempt = 0; inserts.isEmpty() && attempt < 40; attempt++) {
                try (PreparedStatement ps = c.prepareStatement("SELECT lsn::text, xid::text::bigint, data FROM pg_logical_slot_peek_binary_changes(?, NULL, "
                        + "NULL, 'proto_version', '1', 'publication_names', ?)")) {
                    ps.setString(1, slot);
                    ps.setString(2, slot);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            byte[] data = rs.getBytes(3);
                            if (data.length > 0 && data[0] == 'I' && inserts.size() < 10) {
                                inserts.add(org.postgresql.replication.LogSequenceNumber.valueOf(rs.getString(1)).asLong());
                                xid = rs.getLong(2);
                            }
                        }
                    }
                } catch (java.sql.SQLException e) {
                    if (!"55006".equals(e.getSQLState())) { // the stream's walsender may still hold the slot a moment
                        throw e;
                    }
                    Thread.sleep(250);
                }
            }
        }
        // the heartbeat only updates its row: the inserts are the ten of that transaction
        assertThat(inserts).hasSize(10);
        String debezium = "{\"lsn\":" + inserts.get(3) + ",\"lsn_commit\":" + lastCommit + ",\"lsn_proc\":" + inserts.get(3) + ",\"txId\":" + xid + "}";
        try (Connection t = fixture.target(); Statement st = t.createStatement()) {
            st.execute("INSERT INTO t SELECT g, 'applied by debezium' FROM generate_series(11, 14) g");
            st.execute("UPDATE migrator.checkpoint SET position = '" + debezium + "' WHERE migration = '" + plan.name() + "'");
        }

        try (MigrationHarness harness = new MigrationHarness(plan)) {
            harness.awaitPhase(Phase.STREAMING);
            harness.awaitCaughtUp();
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("INSERT INTO t VALUES (21, 'after')");
            }
            harness.awaitCaughtUp();
        }
        try (Connection t = fixture.target()) {
            assertThat(PostgresFixture.rows(t, "t", "id")).containsExactlyElementsOf(expected());
        }
    }

    private static List<String> expected() {
        List<String> rows = new ArrayList<>();
        for (int id = 1; id <= 21; id++) {
            String v = id <= 10 ? "before" : id <= 13 ? "\"applied by debezium\"" : id <= 20 ? "source" : "after";
            rows.add("(" + id + "," + v + ")");
        }
        return rows;
    }
}
