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
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A transaction of 400,000 inserts, with a subtransaction rolled back inside it, streams in batches (bounded memory)
 * and commits on the target as one transaction: a reader of the target sees none of it or all of it. A session on the
 * target holds a lock on a row the transaction's last statement updates, so the applier waits there with every insert
 * written and nothing committed. Its connection is cut there: everything it wrote is rolled back and the stream applies
 * the transaction again from its start. Stopped there, the worker leaves none of it; started again, all of it arrives,
 * the rolled-back rows never.
 */
@Timeout(600)
class PostgresBigTransactionIT extends PostgresFixtureBase {
    private static final int BASE = 1_000_000;
    private static final int ROWS = 400_000;

    @Test
    void aLargeTransactionCommitsOnTheTargetAsOneTransaction(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgbigtx");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)");
            st.execute("INSERT INTO t SELECT g, 'before' FROM generate_series(1, 100) g");
        }
        Plan plan = fixture.plan("");
        Set<Long> seen = new ConcurrentSkipListSet<>();
        AtomicBoolean reading = new AtomicBoolean(true);
        Thread reader = new Thread(() -> {
            try (Connection t = fixture.target(); Statement st = t.createStatement()) {
                while (reading.get()) {
                    try (ResultSet rs = st.executeQuery("SELECT count(*) FROM t WHERE id > " + BASE)) {
                        rs.next();
                        seen.add(rs.getLong(1));
                    }
                    Thread.sleep(20);
                }
            } catch (Exception e) {
                seen.add(-1L);
            }
        }, "target-reader");
        // pg_stat_activity is read in a session of its own: within a transaction it stays as it was first read
        try (Connection blocker = fixture.target(); Statement lock = blocker.createStatement(); Connection observer = fixture.target()) {
            MigrationHarness first = new MigrationHarness(plan);
            try {
                first.awaitPhase(Phase.STREAMING);
                first.awaitCaughtUp();
                reader.start();
                blocker.setAutoCommit(false);
                lock.execute("SELECT * FROM t WHERE id = 15 FOR UPDATE"); // the transaction's last statement updates row 15
                long before = scalarLong(blocker, "SELECT pg_relation_size('t')");
                try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                    c.setAutoCommit(false);
                    st.execute("INSERT INTO t SELECT g, 'big ' || g FROM generate_series(" + (BASE + 1) + ", " + (BASE + ROWS) + ") g");
                    try (Connection other = fixture.source(); Statement analyze = other.createStatement()) {
                        // an invalidation of t while the transaction is open: the walsender describes t again in the transaction's
                        // middle (as autovacuum's ANALYZE once did here), which must not commit its open batches on the target
                        analyze.execute("ANALYZE t");
                    }
                    st.execute("SAVEPOINT s");
                    st.execute("INSERT INTO t SELECT g + " + (3 * BASE) + ", 'rolled back' FROM generate_series(1, 50) g");
                    st.execute("UPDATE t SET v = 'rolled back too' WHERE id <= 10");
                    st.execute("ROLLBACK TO SAVEPOINT s");
                    st.execute("UPDATE t SET v = 'last' WHERE id BETWEEN 11 AND 20");
                    c.commit();
                }
                int applier = awaitApplierWaitingForTheLock(observer);
                assertThat(scalarLong(fixture.target(), "SELECT count(*) FROM t WHERE id > " + BASE))
                        .as("the applier wrote the inserts and waits at the last statement: none of them is visible").isZero();
                assertThat(scalarLong(blocker, "SELECT pg_relation_size('t')") - before)
                        .as("the inserts were written (uncommitted) before the last statement").isGreaterThan(8L << 20);

                long retries = first.migration.status().retries();
                lock.execute("SELECT pg_terminate_backend(" + applier + ")"); // the target connection breaks inside the transaction
                awaitGone(observer, applier);
                int again = awaitApplierWaitingForTheLock(observer);
                assertThat(again).as("the transaction is applied again on a new connection").isNotEqualTo(applier);
                assertThat(first.migration.status().retries()).as("the cut connection was retried").isGreaterThan(retries);
                assertThat(first.failure()).isNull();

                Thread stopping = new Thread(() -> {
                    try {
                        first.close();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                stopping.start();
                Thread.sleep(500);
                lock.execute("SELECT pg_terminate_backend(" + again + ")"); // the statement waiting for the lock ends with it
                stopping.join(60_000);
                assertThat(stopping.isAlive()).as("the worker stopped").isFalse();
            } finally {
                first.close();
            }
            blocker.rollback();
        }
        try (Connection t = fixture.target()) {
            assertThat(scalarLong(t, "SELECT count(*) FROM t WHERE id > " + BASE)).as("stopped inside it: none of the transaction").isZero();
            assertThat(scalarLong(t, "SELECT count(*) FROM t WHERE v = 'last'")).isZero();
            // before the transaction, or at its start: the table's column description goes before its first change (seq 0)
            var checkpoint = PostgresPosition.offset(new SourcePosition(latestCheckpoint(t, plan)));
            assertThat(checkpoint.getOrDefault("seq", 0L)).as("the checkpoint holds none of the transaction's changes: %s", checkpoint)
                    .isEqualTo(0L);
        }

        try (MigrationHarness harness = new MigrationHarness(plan)) {
            harness.awaitPhase(Phase.STREAMING);
            harness.awaitCaughtUp();
        }
        reading.set(false);
        reader.join(10_000);
        assertThat(seen).as("what a reader of the target saw of the transaction: none of it, or all of it").isSubsetOf(0L, (long) ROWS)
                .contains((long) ROWS);
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            String all = "SELECT count(*) || ':' || md5(string_agg(id || '=' || v, ',' ORDER BY id)) FROM t";
            assertThat(PostgresFixture.scalar(t, all)).as("every row reads as on the source").isEqualTo(PostgresFixture.scalar(s, all));
            assertThat(scalarLong(t, "SELECT count(*) FROM t WHERE v LIKE 'rolled back%'")).isZero();
            assertThat(scalarLong(t, "SELECT count(*) FROM t")).isEqualTo(ROWS + 100L);
        }
    }

    /** The pid of the target session applying changes once it waits for the test's row lock. */
    private static int awaitApplierWaitingForTheLock(Connection observer) throws Exception {
        long deadline = System.currentTimeMillis() + 180_000;
        while (System.currentTimeMillis() < deadline) {
            try (Statement st = observer.createStatement(); ResultSet rs = st.executeQuery("SELECT pid FROM pg_stat_activity "
                    + "WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")) {
                if (rs.next()) {
                    return rs.getInt(1);
                }
            }
            Thread.sleep(50);
        }
        StringBuilder sessions = new StringBuilder();
        try (Statement st = observer.createStatement(); ResultSet rs = st.executeQuery("SELECT pid, state, wait_event_type, wait_event, "
                + "coalesce(datname, '-') || ' ' || left(query, 80) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                + "OR backend_type = 'walsender'")) {
            while (rs.next()) {
                sessions.append("\n  ").append(rs.getInt(1)).append(' ').append(rs.getString(2)).append(' ').append(rs.getString(3))
                        .append('/').append(rs.getString(4)).append(' ').append(rs.getString(5));
            }
        }
        for (var e : Thread.getAllStackTraces().entrySet()) {
            if (e.getKey().getName().startsWith("applier") || e.getKey().getName().startsWith("wal-stream")
                    || e.getKey().getName().startsWith("migration")) {
                sessions.append("\n").append(e.getKey().getName()).append(':');
                for (StackTraceElement f : e.getValue()) {
                    sessions.append("\n    ").append(f);
                }
            }
        }
        throw new AssertionError("the applier never reached the transaction's last statement; the target's sessions:" + sessions);
    }

    private static void awaitGone(Connection c, int pid) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        while (scalarLong(c, "SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid) > 0) {
            assertThat(System.currentTimeMillis()).as("the terminated session %s ended", pid).isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    private static String latestCheckpoint(Connection t, Plan plan) throws Exception {
        try (Statement st = t.createStatement();
             ResultSet rs = st.executeQuery("SELECT position FROM migrator.checkpoint WHERE migration = '" + plan.name() + "'")) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static long scalarLong(Connection c, String sql) throws Exception {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

}
