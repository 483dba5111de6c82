package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Plan;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The sequence sync runs every few seconds for as long as the stream applies (days, in a long migration): it keeps one
 * source connection instead of logging in each time (a new backend, a TLS handshake and a SCRAM exchange on the source
 * every 5 s), and a kept connection that broke while idle is replaced within the same sync, without a failure.
 */
@Timeout(120)
class PostgresSequenceSyncIT extends PostgresFixtureBase {
    /** The source backends whose last statement was the sync's read of a sequence. */
    private static final String SYNC_BACKENDS = "SELECT count(*) || ' ' || COALESCE(min(pid), 0) FROM pg_stat_activity "
            + "WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%pg_sequence q%'";

    /** The sync's backends once {@code done} holds, or after 5 s (a backend that ends leaves pg_stat_activity shortly after). */
    private static String settled(Connection c, java.util.function.Predicate<String> done) throws Exception {
        String v = PostgresFixture.scalar(c, SYNC_BACKENDS);
        for (long deadline = System.currentTimeMillis() + 5000; !done.test(v) && System.currentTimeMillis() < deadline; Thread.sleep(100)) {
            v = PostgresFixture.scalar(c, SYNC_BACKENDS);
        }
        return v;
    }

    @Test
    void theSyncKeepsOneSourceConnectionAndReplacesOneThatBroke(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgseqsync");
        try (Connection s = fixture.source(); Statement st = s.createStatement()) {
            st.execute("CREATE TABLE s (id serial PRIMARY KEY, v text)");
            st.execute("INSERT INTO s (v) SELECT 'x' FROM generate_series(1, 10)");
        }
        try (Connection t = fixture.target(); Statement st = t.createStatement()) {
            st.execute("CREATE TABLE s (id serial PRIMARY KEY, v text)");
        }
        Plan plan = fixture.plan("");
        try (PostgresTarget target = new PostgresTarget(plan); Connection s = fixture.source(); Statement st = s.createStatement()) {
            target.prepare();
            assertThat(target.syncSequences()).as("the target's sequence raised to the source's").hasSize(1);
            String backend = PostgresFixture.scalar(s, SYNC_BACKENDS);
            assertThat(backend).as("one source session holds the sync between syncs").startsWith("1 ");
            for (int i = 0; i < 3; i++) {
                st.execute("INSERT INTO s (v) VALUES ('more')");
                assertThat(target.syncSequences()).hasSize(1);
                assertThat(PostgresFixture.scalar(s, SYNC_BACKENDS)).as("sync %d ran on the same source session", i).isEqualTo(backend);
            }

            // the kept session ends while idle (a source restart, idle_session_timeout, a proxy's idle limit)
            st.execute("SELECT pg_terminate_backend(" + backend.split(" ")[1] + ", 5000)");
            st.execute("INSERT INTO s (v) SELECT 'after' FROM generate_series(1, 5)");
            assertThat(target.syncSequences()).as("the sync right after it reconnects and raises the sequence").hasSize(1);
            try (Connection t = fixture.target()) {
                assertThat(PostgresFixture.scalar(t, "SELECT last_value FROM s_id_seq")).isEqualTo(PostgresFixture.scalar(s, "SELECT max(id) FROM s"));
            }
            String replaced = settled(s, v -> v.startsWith("1 "));
            assertThat(replaced).as("a new session holds the sync").startsWith("1 ").isNotEqualTo(backend);
        }
        try (Connection s = fixture.source()) {
            assertThat(settled(s, "0 0"::equals)).as("closing the target ends the sync's session").isEqualTo("0 0");
        }
    }
}
