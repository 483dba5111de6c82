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
 * plan's change after the large transaction arrives. A cut connection is still reconnected (PostgresFaultIT).
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
