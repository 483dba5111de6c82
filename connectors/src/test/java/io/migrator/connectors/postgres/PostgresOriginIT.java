package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.change.ChangeBatch;
import io.migrator.core.change.RowChange;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.postgresql.replication.LogSequenceNumber;

/**
 * Replication origins (issue 24): what a direction's applier writes carries the origin {@code migrator:<direction>}, and
 * the stream of the other direction leaves such transactions out, so a change never goes round even where both
 * directions stream at once. Read from the servers: the forward stream leaves out what the source got from migrator's
 * reverse applier (small and streamed transactions) and carries what any other origin wrote; the target's own WAL, decoded
 * as the reverse direction would read it, holds nothing of the forward applier's writes and all of the application's.
 */
@Timeout(300)
class PostgresOriginIT extends PostgresFixtureBase {
    private static final String ALL_T = "SELECT count(*) || ':' || coalesce(sum(id), 0) || ':' || coalesce(md5(string_agg(v, ',' ORDER BY id)), '') FROM t";

    @Test
    void theForwardStreamLeavesOutWhatTheReverseApplierWroteAndCarriesOtherOrigins(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgorigin");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t (id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO t VALUES (1, 'copied')");
        }
        Plan plan = fixture.plan("");
        String echo = PostgresOrigin.name(Plan.reverseName(plan.name()));
        String other = "elsewhere-" + plan.name();
        fixture.setSource("logical_decoding_work_mem", "64kB"); // a transaction of thousands of rows streams before its commit (protocol 2)
        try (MigrationHarness harness = new MigrationHarness(plan)) {
            harness.awaitPhase(Phase.STREAMING);
            harness.awaitCaughtUp();
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                written(st, echo, "INSERT INTO t VALUES (100, 'reverse applier')");
                written(st, echo, "INSERT INTO t SELECT g, 'reverse applier, large' FROM generate_series(1000, 5999) g");
                written(st, echo, "UPDATE t SET v = 'reverse applier touched it' WHERE id = 1");
                written(st, other, "INSERT INTO t VALUES (200, 'another origin')");
                written(st, other, "INSERT INTO t SELECT g, 'another origin, large' FROM generate_series(10000, 13999) g");
                st.execute("INSERT INTO t VALUES (300, 'the application')");
            }
            harness.awaitCaughtUp();
            assertThat(harness.failure()).isNull();
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                assertThat(PostgresFixture.scalar(t, "SELECT count(*) FROM t WHERE v LIKE 'reverse applier%'")).as("none of the reverse applier's writes").isEqualTo("0");
                assertThat(PostgresFixture.scalar(t, "SELECT v FROM t WHERE id = 1")).isEqualTo("copied");
                assertThat(PostgresFixture.scalar(t, "SELECT count(*) FROM t WHERE v LIKE 'another origin%'")).isEqualTo("4001");
                assertThat(PostgresFixture.scalar(t, "SELECT v FROM t WHERE id = 300")).isEqualTo("the application");
                assertThat(PostgresFixture.scalar(t, ALL_T)).as("the target holds the source's rows but those the reverse applier wrote")
                        .isEqualTo(PostgresFixture.scalar(s, ALL_T.replace("FROM t", "FROM (SELECT id, CASE WHEN id = 1 THEN 'copied' ELSE v END AS v FROM t "
                                + "WHERE v NOT LIKE 'reverse applier%' OR id = 1) t")));
            }
        } finally {
            fixture.setSource("logical_decoding_work_mem", null);
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname IN ('" + echo + "', '" + other + "')");
            }
        }
    }

    @Test
    void whatTheForwardApplierWritesCarriesItsOriginAndTheReverseDirectionLeavesItOut(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgorigin2");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t (id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO t VALUES (1, 'copied')");
        }
        Plan plan = fixture.plan("");
        try {
            try (MigrationHarness harness = new MigrationHarness(plan)) {
                harness.awaitPhase(Phase.STREAMING);
                harness.awaitCaughtUp();
                try (Connection t = fixture.target(); Statement st = t.createStatement()) {
                    // what a reverse direction would stream from the target, made while the forward applier writes there
                    st.execute("CREATE PUBLICATION probe_pub FOR TABLE t");
                    st.execute("SELECT pg_create_logical_replication_slot('probe_" + "pgorigin2', 'pgoutput')");
                }
                try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                    for (int i = 0; i < 50; i++) {
                        st.execute("INSERT INTO t VALUES (" + (100 + i) + ", 'forward')");
                    }
                    st.execute("UPDATE t SET v = 'forward, updated' WHERE id < 120");
                    st.execute("DELETE FROM t WHERE id >= 140");
                }
                harness.awaitCaughtUp();
                assertThat(harness.failure()).isNull();
                try (Connection t = fixture.target(); Statement st = t.createStatement()) {
                    st.execute("INSERT INTO t VALUES (-1, 'the application on the target')"); // not migrator's: it goes back
                    st.execute("UPDATE t SET v = 'the application again' WHERE id = 1");
                }
            }
            List<RowChange> reverse = new ArrayList<>();
            List<RowChange> anyOther = new ArrayList<>();
            int marked = decode(Plan.reverseName(plan.name()), reverse, PostgresOrigin.name(plan.name()));
            decode("unrelated-" + plan.name(), anyOther, null);
            List<String> rowsThere = new ArrayList<>();
            for (int id = 100; id < 140; id++) {
                rowsThere.add(Integer.toString(id));
            }
            // (the applier coalesces a batch's changes of one key: how many statements it wrote depends on its batches)
            assertThat(anyOther.stream().map(c -> c.key().values().get(0)).distinct().toList())
                    .as("a stream of any other direction sees the forward applier's writes (the slot holds them)")
                    .containsAll(rowsThere).contains("-1", "1");
            assertThat(marked).as("transactions marked with the forward applier's origin").isPositive();
            assertThat(reverse.stream().map(c -> c.key().values().get(0)).toList())
                    .as("the reverse direction leaves out everything the forward applier wrote and carries the application's writes")
                    .containsExactly("-1", "1");
            // the migration forgotten (complete): its origin goes with its bookkeeping
            try (PostgresTarget target = new PostgresTarget(plan)) {
                assertThat(target.forget()).contains("replication origin " + PostgresOrigin.name(plan.name()));
            }
            try (Connection t = fixture.target()) {
                assertThat(PostgresFixture.scalar(t, "SELECT count(*) FROM pg_replication_origin WHERE roname = '" + PostgresOrigin.name(plan.name()) + "'"))
                        .isEqualTo("0");
            }
        } finally {
            try (Connection t = fixture.target(); Statement st = t.createStatement()) {
                st.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'probe_pgorigin2'");
                st.execute("SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = '"
                        + PostgresOrigin.name(plan.name()) + "'");
            }
        }
    }

    /**
     * Everything the probe slot on the target holds, read as the stream of {@code direction} reads it; the changes it would
     * send go to {@code out}. Returns how many transactions carried {@code origin}.
     */
    private int decode(String direction, List<RowChange> out, String origin) throws Exception {
        TableDef t = new TableDef(new TableId("public", "t"), List.of(new ColumnDef("id", "int", false, false),
                new ColumnDef("v", "text", true, false)), List.of("id"), "", 0);
        List<ChangeBatch> batches = new ArrayList<>();
        int marked = 0;
        try (PgOutputTransactions transactions = new PgOutputTransactions(List.of(t), PostgresPosition.of(Map.of("lsn", 0L)),
                "probe", null, direction);
             Connection c = fixture.target(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes('probe_pgorigin2', NULL, NULL, "
                     + "'proto_version', '1', 'publication_names', 'probe_pub')")) {
            while (rs.next()) {
                byte[] data = rs.getBytes(2);
                if (origin != null && data[0] == 'O' && new String(data, 9, data.length - 10, java.nio.charset.StandardCharsets.UTF_8).equals(origin)) {
                    marked++;
                }
                transactions.receive(batches::add, ByteBuffer.wrap(data), LogSequenceNumber.valueOf(rs.getString(1)).asLong());
            }
            transactions.flush(batches::add);
        }
        batches.forEach(b -> out.addAll(b.changes()));
        return marked;
    }

    /** Runs {@code sql} in a transaction of its own whose commit carries the replication origin {@code origin}. */
    private static void written(Statement st, String origin, String sql) throws Exception {
        st.execute("SELECT pg_replication_origin_create('" + origin + "') WHERE pg_replication_origin_oid('" + origin + "') IS NULL");
        st.execute("SELECT pg_replication_origin_session_setup('" + origin + "')");
        try {
            st.execute(sql);
        } finally {
            st.execute("SELECT pg_replication_origin_session_reset()");
        }
    }


}
