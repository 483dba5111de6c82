package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A transaction of 400,000 inserts, with a subtransaction rolled back inside it, streams in batches (bounded memory)
 * and the worker is stopped while it applies them: the checkpoint then lies inside the transaction ({@code txId},
 * {@code seq}). The rows it covers are marked on the target before the restart; afterwards they keep the mark (not
 * applied again), every other row reads as on the source (nothing skipped), and the rolled-back rows never arrive.
 */
@Timeout(600)
class PostgresBigTransactionIT extends PostgresFixtureBase {
    private static final int BASE = 1_000_000;
    private static final int ROWS = 400_000;

    @Test
    void aStopInsideALargeTransactionResumesAfterItsLastAppliedChange(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgbigtx");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)");
            st.execute("INSERT INTO t SELECT g, 'before' FROM generate_series(1, 100) g");
        }
        Plan plan = fixture.plan("");
        String stored;
        try (MigrationHarness harness = new MigrationHarness(plan)) {
            harness.awaitPhase(Phase.STREAMING);
            harness.awaitCaughtUp();
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                c.setAutoCommit(false);
                st.execute("INSERT INTO t SELECT g, 'big ' || g FROM generate_series(" + (BASE + 1) + ", " + (BASE + ROWS) + ") g");
                st.execute("SAVEPOINT s");
                st.execute("INSERT INTO t SELECT g + " + (3 * BASE) + ", 'rolled back' FROM generate_series(1, 50) g");
                st.execute("UPDATE t SET v = 'rolled back too' WHERE id <= 10");
                st.execute("ROLLBACK TO SAVEPOINT s");
                st.execute("UPDATE t SET v = 'last' WHERE id BETWEEN 11 AND 20");
                c.commit();
            }
            stored = awaitCheckpointInsideATransaction(plan);
        }
        Map<String, Object> offset = PostgresPosition.offset(new SourcePosition(latestCheckpoint(plan)));
        assertThat(offset).as("stopped inside the transaction (first seen %s)", stored).containsKeys("txId", "seq");
        int kept;
        try (Connection t = fixture.target(); Statement st = t.createStatement()) {
            kept = st.executeUpdate("UPDATE t SET v = 'kept' WHERE id > " + BASE);
        }
        assertThat(kept).as("part of the transaction was applied before the stop").isPositive().isLessThan(ROWS);
        assertThat(((Number) offset.get("seq")).longValue()).as("the checkpoint counts the applied changes of the transaction").isEqualTo(kept);

        try (MigrationHarness harness = new MigrationHarness(plan)) {
            harness.awaitPhase(Phase.STREAMING);
            harness.awaitCaughtUp();
        }
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            assertThat(scalar(t, "SELECT count(*) FROM t WHERE v = 'kept'")).as("the applied changes were not applied again").isEqualTo(kept);
            assertThat(scalar(t, "SELECT max(id) FROM t WHERE v = 'kept'")).as("they were the transaction's first changes").isEqualTo(BASE + kept);
            String rest = "SELECT count(*) || ':' || md5(string_agg(id || '=' || v, ',' ORDER BY id)) FROM t WHERE id <= " + BASE + " OR id > " + (BASE + kept);
            assertThat(scalar(t, rest)).as("every other row reads as on the source").isEqualTo(scalar(s, rest));
            assertThat(scalar(t, "SELECT count(*) FROM t WHERE v LIKE 'rolled back%'")).isEqualTo(0);
            assertThat(scalar(t, "SELECT count(*) FROM t")).isEqualTo(scalar(s, "SELECT count(*) FROM t"));
        }
    }

    /** Polls the target's checkpoint until it lies inside a transaction, past some of its changes; returns it. */
    private String awaitCheckpointInsideATransaction(Plan plan) throws Exception {
        long deadline = System.currentTimeMillis() + 120_000;
        while (System.currentTimeMillis() < deadline) {
            String position = latestCheckpoint(plan);
            // seq 0 is the position of the table's column description, which goes before its first change: no row yet
            if (position != null && position.contains("\"seq\"")
                    && ((Number) PostgresPosition.offset(new SourcePosition(position)).get("seq")).longValue() > 0) {
                return position;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("the checkpoint never lay inside the large transaction");
    }

    private String latestCheckpoint(Plan plan) throws Exception {
        try (Connection t = fixture.target(); Statement st = t.createStatement();
             ResultSet rs = st.executeQuery("SELECT position FROM migrator.checkpoint WHERE migration = '" + plan.name() + "'")) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static Object scalar(Connection c, String sql) throws Exception {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            Object v = rs.getObject(1);
            return v instanceof Number n ? (Object) n.intValue() : v == null ? null : v.toString();
        }
    }
}
