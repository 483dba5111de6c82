package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableId;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The applier commits without waiting for the target's disk, as a native subscription's apply worker does: a batch of
 * single-row transactions costs no log flush of its own. The stream confirms a position to the source only once the
 * target's log flush passed its commit ({@code durable}), and the cutover's fence ({@code makeDurable}) waits for the disk.
 */
@Timeout(120)
class PostgresAsyncCommitIT extends PostgresFixtureBase {
    private static final TableId T = new TableId("public", "t");
    private static final int BATCHES = 60;

    private static SourcePosition at(long lsn) {
        return PostgresPosition.of(Map.of("lsn", lsn, "lsn_proc", lsn, "lsn_commit", lsn));
    }

    private static List<RowChange> row(int id) {
        Map<String, Object> image = new LinkedHashMap<>();
        image.put("id", Integer.toString(id));
        image.put("v", "v" + id);
        return List.of(new RowChange.Upsert(new RowKey(T, List.of("id"), List.of(Integer.toString(id))), image));
    }

    /** Log flushes the target's server processes have done so far (their statistics reach the view when they report). */
    private static long walSyncs(Connection t) throws Exception {
        Thread.sleep(1200); // a busy process reports at most once a second, an ending one at its end
        return Long.parseLong(PostgresFixture.scalar(t, "SELECT wal_sync FROM pg_stat_wal"));
    }

    @Test
    void batchesCommitWithoutAFlushEachAndOnlyFlushedPositionsAreConfirmed(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgasynccommit");
        try (Connection t = fixture.target(); Statement st = t.createStatement()) {
            st.execute("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)");
        }
        Plan plan = fixture.plan("");
        try (Connection t = fixture.target()) {
            long syncsBefore;
            long lastDurable = 0;
            try (PostgresTarget target = new PostgresTarget(plan)) {
                target.prepare();
                syncsBefore = walSyncs(t);
                for (int i = 1; i <= BATCHES; i++) {
                    target.apply(row(i), at(i * 100L), 1);
                    Optional<SourcePosition> durable = target.durable(at(i * 100L));
                    if (durable.isPresent()) {
                        long lsn = PostgresPosition.reach(durable.get());
                        assertThat(lsn).as("a durable position is one applied already, never behind one given before").isBetween(lastDurable, i * 100L);
                        lastDurable = lsn;
                    }
                }
                assertThat(PostgresFixture.scalar(t, "SELECT count(*) FROM t")).as("every batch is visible once apply returns").isEqualTo(String.valueOf(BATCHES));

                // the cutover's fence: everything applied is on disk, and the last position is confirmed
                target.makeDurable();
                assertThat(target.durable(at(BATCHES * 100L)).map(PostgresPosition::reach)).contains(BATCHES * 100L);
                assertThat(target.durable(at(BATCHES * 100L))).as("handed out once").isEmpty();
            }
            long syncs = walSyncs(t) - syncsBefore;
            assertThat(syncs).as("log flushes for %d committed batches (one each if every commit waited for the disk)", BATCHES)
                    .isLessThan(BATCHES / 3);
        }
    }
}
