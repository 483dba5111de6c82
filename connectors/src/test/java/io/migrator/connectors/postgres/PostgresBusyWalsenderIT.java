package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A walsender decoding a large transaction sends nothing until it is done (here: millions of rows of a table outside the
 * plan, which pgoutput reads back from its spill files and skips). Silence longer than network.stallTimeout is then work,
 * not a broken connection: the stream is not reconnected (that would only start the decoding again, for ever), and the
 * plan's change after the large transaction arrives. Nor is a transaction streaming ahead of its commit (14+) and left
 * open: the heartbeat messages still arrive. A cut connection is still reconnected (PostgresFaultIT).
 */
@Timeout(600)
class PostgresBusyWalsenderIT extends PostgresFixtureBase {
    // the walsender decodes 5M rows in 5.8-15 s on the sandbox (from run to run): 8M keeps the silence past stallTimeout 5s
    private static final int ROWS = 8_000_000;

    /**
     * PostgreSQL 14+ streams a large transaction while it is in progress (protocol 2), so its walsender is not silent at
     * the commit: the silence is that of protocol 1 (PostgreSQL 10 to 13), asked for here.
     */
    @Test
    void aWalsenderBusyWithALargeTransactionIsWaitedForNotReconnected(SandboxServers servers) throws Exception {
        System.setProperty("migrator.pgoutput.streaming", "off");
        try {
            busyWalsender(servers);
        } finally {
            System.clearProperty("migrator.pgoutput.streaming");
        }
    }

    /**
     * PostgreSQL 14+ streams a large transaction before its commit (protocol 2): nothing goes to the target until it ends,
     * and while it stays open longer than network.stallTimeout the heartbeat messages still arrive. The stream is not
     * taken for stalled (before 05ce1c8 it was reconnected, and the transaction decoded again, every stallTimeout).
     */
    @Test
    void aTransactionStreamingAheadOfItsCommitAndLeftOpenIsNotTakenForAStall(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgopenstream");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE kept (id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO kept VALUES (0, 'before')");
        }
        fixture.setSource("logical_decoding_work_mem", "64kB");
        io.migrator.core.plan.Plan plan = fixture.plan("network: {stallTimeout: 5s}");
        String slot = PostgresSource.slotName(plan.name());
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            run.awaitCaughtUp();
            long retriesBefore = run.migration.status().retries();
            try (Connection c = fixture.source(); Statement st = c.createStatement(); Connection watch = fixture.source()) {
                int walsender = activePid(watch, slot);
                c.setAutoCommit(false);
                st.execute("INSERT INTO kept SELECT g, 'in the open transaction' FROM generate_series(1, 20000) g");
                // open for three stallTimeouts: the walsender streams the transaction, then has nothing to send but heartbeats
                long until = System.nanoTime() + 15_000_000_000L;
                while (System.nanoTime() < until) {
                    assertThat(activePid(watch, slot)).as("the slot's walsender (a reconnect starts another)").isEqualTo(walsender);
                    assertThat(run.failure()).isNull();
                    Thread.sleep(500);
                }
                c.commit();
            }
            run.awaitCaughtUp();
            try (Connection t = fixture.target(); Statement st = t.createStatement();
                 java.sql.ResultSet rs = st.executeQuery("SELECT count(*) FROM kept")) {
                rs.next();
                assertThat(rs.getLong(1)).isEqualTo(20_001);
            }
            assertThat(run.migration.status().retries()).as("the stream was not reconnected while the transaction stayed open")
                    .isEqualTo(retriesBefore);
        } finally {
            fixture.setSource("logical_decoding_work_mem", null);
        }
    }

    private static int activePid(Connection c, String slot) throws Exception {
        try (java.sql.PreparedStatement ps = c.prepareStatement("SELECT active_pid FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).as("slot " + slot).isTrue();
                return rs.getInt(1);
            }
        }
    }

    private void busyWalsender(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgbusy");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE kept (id int PRIMARY KEY, v text)");
            st.execute("CREATE TABLE bulk (id int, v text)");
            st.execute("INSERT INTO kept VALUES (0, 'before')");
        }
        String plan = "tables: {include: [\"public.kept\"]}\nnetwork: {stallTimeout: 5s}";
        try (MigrationHarness run = new MigrationHarness(fixture.plan(plan))) {
            run.awaitPhase(Phase.STREAMING);
            long retriesBefore = run.migration.status().retries();
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("INSERT INTO bulk SELECT g, 'filler' FROM generate_series(1, " + ROWS + ") g");
                st.execute("INSERT INTO kept VALUES (1, 'after the large transaction')");
            }
            long committed = System.nanoTime();
            try (Connection t = fixture.target()) {
                while (PostgresFixture.rows(t, "kept", "id").size() < 2) {
                    assertThat(run.failure()).as("migration failure").isNull();
                    assertThat(System.nanoTime() - committed).as("waiting for the change after the large transaction")
                            .isLessThan(400_000_000_000L);
                    Thread.sleep(200);
                }
                long waitedMillis = (System.nanoTime() - committed) / 1_000_000;
                assertThat(waitedMillis).as("the stream was silent longer than network.stallTimeout (else this test shows nothing)")
                        .isGreaterThan(6_000);
                assertThat(PostgresFixture.rows(t, "kept", "id")).containsExactly("(0,before)", "(1,\"after the large transaction\")");
            }
            assertThat(run.migration.status().retries()).as("the stream was not reconnected while the walsender decoded")
                    .isEqualTo(retriesBefore);
            run.awaitCaughtUp();
        }
    }
}
