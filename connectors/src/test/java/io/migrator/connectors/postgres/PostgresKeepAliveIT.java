package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A paused worker (or one waiting on a slow target) takes no batch, so its stream reads nothing from the replication
 * connection for as long: the stream still sends standby status, and the walsender keeps the connection past
 * wal_sender_timeout (5 s here, for the test) — the same walsender before and after 15 s of pause, nothing lost.
 */
@Timeout(300)
class PostgresKeepAliveIT extends PostgresFixtureBase {
    @Test
    void aPauseLongerThanTheWalSenderTimeoutKeepsTheReplicationConnection(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgkeep");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t (id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO t SELECT g, 'copied' FROM generate_series(1, 10) g");
        }
        Plan plan = fixture.plan("");
        String slot = PostgresSource.slotName(plan.name());
        try (Connection admin = fixture.source(); Statement sys = admin.createStatement()) {
            sys.execute("ALTER SYSTEM SET wal_sender_timeout = '5s'");
            sys.execute("SELECT pg_reload_conf()");
            try (MigrationHarness harness = new MigrationHarness(plan)) {
                harness.awaitPhase(Phase.STREAMING);
                harness.awaitCaughtUp();
                int before = walsender(admin, slot);
                assertThat(before).as("the stream's walsender").isPositive();
                harness.migration.pause();
                try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                    for (int i = 0; i < 300; i++) { // many transactions: the stream's thread waits with batches in hand
                        st.execute("INSERT INTO t VALUES (" + (100 + i) + ", 'paused')");
                    }
                }
                Thread.sleep(15_000);
                assertThat(walsender(admin, slot)).as("the same walsender after a pause of 15 s, wal_sender_timeout 5 s").isEqualTo(before);
                harness.migration.resume();
                try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                    st.execute("UPDATE t SET v = 'after' WHERE id <= 5");
                }
                harness.awaitCaughtUp();
                assertThat(harness.failure()).isNull();
            } finally {
                sys.execute("ALTER SYSTEM RESET wal_sender_timeout");
                sys.execute("SELECT pg_reload_conf()");
            }
        }
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            assertThat(PostgresFixture.rows(t, "t", "id")).hasSize(310).isEqualTo(PostgresFixture.rows(s, "t", "id"));
        }
    }

    /**
     * Found by bench/soak.sh: an idle stream confirmed a keepalive's position to the slot, past the target's checkpoint
     * (the last transaction's end), and the next start refused to resume from a slot "confirmed past the checkpoint".
     * Sampled for 15 s of idleness (heartbeats and keepalives only): the slot is never confirmed past the checkpoint, and
     * a worker stopped then resumes.
     */
    @Test
    void anIdleStreamNeverConfirmsTheSlotPastTheCheckpoint(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgidle");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t (id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO t VALUES (1, 'copied')");
        }
        Plan plan = fixture.plan("");
        String slot = PostgresSource.slotName(plan.name());
        try (MigrationHarness harness = new MigrationHarness(plan); Connection s = fixture.source(); Connection t = fixture.target()) {
            harness.awaitPhase(Phase.STREAMING);
            harness.awaitCaughtUp();
            int samples = 0;
            for (long end = System.currentTimeMillis() + 15_000; System.currentTimeMillis() < end; samples++) {
                String confirmed = PostgresFixture.scalar(s, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
                String checkpoint = PostgresFixture.scalar(t, "SELECT position FROM migrator.checkpoint WHERE migration = '" + plan.name() + "'");
                long limit = PostgresPosition.resumeLimit(new io.migrator.core.change.SourcePosition(checkpoint));
                assertThat(org.postgresql.replication.LogSequenceNumber.valueOf(confirmed).asLong())
                        .as("slot confirmed %s, checkpoint %s", confirmed, checkpoint).isLessThanOrEqualTo(limit);
                Thread.sleep(100);
            }
            assertThat(samples).isGreaterThan(50);
        }
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("INSERT INTO t VALUES (2, 'after the stop')");
        }
        try (MigrationHarness harness = new MigrationHarness(plan)) {
            harness.awaitPhase(Phase.STREAMING);
            harness.awaitCaughtUp();
        }
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            assertThat(PostgresFixture.rows(t, "t", "id")).containsExactly("(1,copied)", "(2,\"after the stop\")");
        }
    }

    /**
     * PostgreSQL 14+: the heartbeat is a logical decoding message, not a row. Through 6 s of idleness the heartbeat table is
     * not written, yet the checkpoint moves every second or so (each message is a position between transactions) and the
     * lag the worker shows stays fresh; a change after it arrives as usual.
     */
    @Test
    void onFourteenAndLaterTheHeartbeatIsAMessageThatMovesTheCheckpoint(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgbeatmsg");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t (id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO t VALUES (1, 'copied')");
        }
        Plan plan = fixture.plan("");
        try (MigrationHarness harness = new MigrationHarness(plan); Connection s = fixture.source(); Connection t = fixture.target()) {
            harness.awaitPhase(Phase.STREAMING);
            harness.awaitCaughtUp();
            assertThat(Integer.parseInt(PostgresFixture.scalar(s, "SHOW server_version_num"))).as("the sandbox's PostgreSQL").isGreaterThanOrEqualTo(140000);
            String beatBefore = PostgresFixture.scalar(s, "SELECT coalesce(max(ts)::text, 'none') FROM migrator.heartbeat WHERE migration = '" + plan.name() + "'");
            java.util.Set<String> checkpoints = new java.util.LinkedHashSet<>();
            double worstLag = 0;
            for (long end = System.currentTimeMillis() + 6_000; System.currentTimeMillis() < end; ) {
                checkpoints.add(PostgresFixture.scalar(t, "SELECT position FROM migrator.checkpoint WHERE migration = '" + plan.name() + "'"));
                Double lag = harness.migration.status().lag().seconds();
                if (lag != null) {
                    worstLag = Math.max(worstLag, lag);
                }
                Thread.sleep(100);
            }
            assertThat(PostgresFixture.scalar(s, "SELECT coalesce(max(ts)::text, 'none') FROM migrator.heartbeat WHERE migration = '" + plan.name() + "'"))
                    .as("the heartbeat row is not written every second").isEqualTo(beatBefore);
            assertThat(checkpoints).as("the checkpoint moved with the heartbeat messages while idle").hasSizeGreaterThanOrEqualTo(4);
            assertThat(worstLag).as("lag while idle, seconds").isLessThan(3.0);
            try (Statement st = s.createStatement()) {
                st.execute("INSERT INTO t VALUES (2, 'after')");
            }
            harness.awaitCaughtUp();
            assertThat(harness.failure()).isNull();
            assertThat(PostgresFixture.rows(t, "t", "id")).containsExactly("(1,copied)", "(2,after)");
        }
    }


    private static int walsender(Connection c, String slot) throws Exception {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT coalesce(active_pid, 0) FROM pg_replication_slots WHERE slot_name = '" + slot + "'")) {
            return rs.next() ? rs.getInt(1) : 0;
        }
    }
}
