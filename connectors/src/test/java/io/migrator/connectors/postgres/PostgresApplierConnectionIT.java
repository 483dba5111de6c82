package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableId;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A source transaction too large for one batch goes to the target in open batches on the applier's one connection and
 * commits with its closing batch and the checkpoint. If that connection dies in between, the closing batch fails (the
 * stream then starts again from the checkpoint): it never commits on a fresh connection without the open batches, even
 * when it comes after the applier's idle check (10 s), which between transactions swaps a dead idle connection for a new
 * one. Before 05ce1c8 the swap happened here, and the target held the closing batch and its checkpoint alone.
 */
@Timeout(300)
class PostgresApplierConnectionIT extends PostgresFixtureBase {
    private static final TableId T = new TableId("public", "t");

    @Test
    void aClosingBatchNeverCommitsWithoutTheOpenBatchesBeforeIt(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgapplierconn");
        try (Connection t = fixture.target(); Statement st = t.createStatement()) {
            st.execute("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)");
        }
        Plan plan = fixture.plan("");
        SourcePosition end = PostgresPosition.of(Map.of("lsn", 900L, "lsn_proc", 900L, "lsn_commit", 900L));
        try (PostgresTarget target = new PostgresTarget(plan)) {
            target.prepare();
            target.applyOpen(rows(1, 1000, "open"), 1000);
            int ended = terminateApplier();
            assertThat(ended).as("the applier's connection, in its open transaction, was ended").isEqualTo(1);
            Thread.sleep(10_500); // past the applier's idle check

            assertThatThrownBy(() -> target.apply(rows(1001, 2000, "closing"), end, 1000))
                    .as("the closing batch on the connection that died").isInstanceOf(RuntimeException.class);
            try (Connection t = fixture.target()) {
                assertThat(PostgresFixture.scalar(t, "SELECT count(*) FROM t")).as("neither batch is on the target").isEqualTo("0");
            }
            assertThat(target.checkpoint()).as("nor the checkpoint").isEmpty();

            // the stream replays the transaction from the checkpoint: on a new connection, whole
            target.applyOpen(rows(1, 1000, "open"), 1000);
            target.apply(rows(1001, 2000, "closing"), end, 1000);
            try (Connection t = fixture.target()) {
                assertThat(PostgresFixture.scalar(t, "SELECT count(*) || ' ' || count(*) FILTER (WHERE v = 'open') FROM t")).isEqualTo("2000 1000");
            }
            assertThat(target.checkpoint()).map(PostgresPosition::reach).contains(900L);
        }
    }

    private static List<RowChange> rows(int from, int to, String v) {
        List<RowChange> out = new ArrayList<>();
        for (int id = from; id <= to; id++) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("id", Integer.toString(id));
            row.put("v", v);
            out.add(new RowChange.Upsert(new RowKey(T, List.of("id"), List.of(Integer.toString(id))), row));
        }
        return out;
    }

    /** Ends the target's server processes that hold a transaction open in the fixture's database: the applier's. */
    private int terminateApplier() throws Exception {
        try (Connection t = fixture.target(); Statement st = t.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                        + "WHERE datname = current_database() AND state = 'idle in transaction' AND pid <> pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

}
