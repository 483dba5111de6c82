package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * PostgreSQL 14+ streams a transaction past its logical_decoding_work_mem before it commits (pgoutput protocol 2; set to
 * 64 kB here so every transaction of a few thousand rows streams). The stream keeps what arrives in a spool file until
 * the Stream Commit: a transaction with rolled-back subtransactions (one of them holding a released nested one) arrives
 * without them, a transaction rolled back whole never arrives, a small transaction committed meanwhile arrives in its
 * order, and a worker stopped while a transaction is streaming (still open on the source) gets it whole after the
 * restart. The spool files are gone afterwards.
 */
@Timeout(600)
class PostgresStreamedTransactionIT extends PostgresFixtureBase {
    private static final String ALL_T = "SELECT count(*) || ':' || md5(string_agg(id || '=' || v, ',' ORDER BY id)) FROM t";
    private static final String ALL_U = "SELECT count(*) || ':' || md5(string_agg(id || '=' || n, ',' ORDER BY id)) FROM u";

    @Test
    void transactionsStreamedBeforeTheirCommitArriveWholeWithoutWhatRolledBack(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgstreamtx");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)");
            st.execute("CREATE TABLE u (id int PRIMARY KEY, n int NOT NULL)");
            st.execute("INSERT INTO t SELECT g, 'before' FROM generate_series(1, 100) g");
            st.execute("INSERT INTO u SELECT g, 0 FROM generate_series(1, 10) g");
        }
        fixture.setSource("logical_decoding_work_mem", "64kB");
        try {
            Plan plan = fixture.plan("");
            String slot = PostgresSource.slotName(plan.name());
            try (MigrationHarness harness = new MigrationHarness(plan)) {
                harness.awaitPhase(Phase.STREAMING);
                harness.awaitCaughtUp();
                long streamedBefore = streamedTransactions(slot);
                try (Connection big = fixture.source(); Statement st = big.createStatement();
                     Connection small = fixture.source(); Statement other = small.createStatement()) {
                    big.setAutoCommit(false);
                    st.execute("INSERT INTO t SELECT g, 'a ' || g FROM generate_series(1001, 21000) g");
                    st.execute("SAVEPOINT s1");
                    st.execute("INSERT INTO t SELECT g, 'rolled back' FROM generate_series(100001, 105000) g");
                    st.execute("UPDATE u SET n = -1");
                    st.execute("SAVEPOINT s2");
                    st.execute("INSERT INTO t SELECT g, 'nested, rolled back' FROM generate_series(200001, 201000) g");
                    st.execute("RELEASE SAVEPOINT s2");
                    st.execute("ROLLBACK TO SAVEPOINT s1");
                    st.execute("SAVEPOINT s3");
                    st.execute("INSERT INTO t SELECT g, 'kept ' || g FROM generate_series(300001, 301000) g");
                    st.execute("RELEASE SAVEPOINT s3");
                    other.execute("UPDATE u SET n = n + 1 WHERE id = 1"); // commits while the large one is in progress
                    st.execute("UPDATE t SET v = 'updated' WHERE id <= 100");
                    st.execute("UPDATE u SET n = n + 10 WHERE id = 2");
                    big.commit();

                    st.execute("INSERT INTO t SELECT g, 'aborted' FROM generate_series(400001, 420000) g");
                    big.rollback();
                    big.setAutoCommit(true);
                    st.execute("INSERT INTO t VALUES (500000, 'after')");
                }
                harness.awaitCaughtUp();
                try (Connection s = fixture.source(); Connection t = fixture.target()) {
                    assertThat(PostgresFixture.scalar(t, ALL_T)).as("t reads as on the source").isEqualTo(PostgresFixture.scalar(s, ALL_T));
                    assertThat(PostgresFixture.scalar(t, ALL_U)).as("u reads as on the source").isEqualTo(PostgresFixture.scalar(s, ALL_U));
                    assertThat(PostgresFixture.scalar(t, "SELECT count(*) FROM t WHERE v LIKE '%rolled back' OR v = 'aborted'")).isEqualTo("0");
                    assertThat(PostgresFixture.scalar(t, "SELECT count(*) FROM t WHERE v LIKE 'kept %'")).isEqualTo("1000");
                    assertThat(PostgresFixture.scalar(t, "SELECT string_agg(n::text, ',' ORDER BY id) FROM u WHERE id <= 2")).isEqualTo("1,10");
                }
                assertThat(awaitStreamed(slot, streamedBefore)).as("the server streamed transactions before their commit").isPositive();
                assertThat(spools(slot)).as("no spool is left once every streamed transaction ended")
                        .allMatch(Files::isDirectory).isNotEmpty(); // the stream's directory, while it runs

                // a transaction streaming while the worker stops, committed while it is down
                try (Connection big = fixture.source(); Statement st = big.createStatement()) {
                    big.setAutoCommit(false);
                    st.execute("INSERT INTO t SELECT g, 'across the stop ' || g FROM generate_series(600001, 630000) g");
                    awaitSpooled(slot);
                    harness.close();
                    assertThat(spools(slot)).as("the stopped stream's spool and its directory are deleted").isEmpty();
                    big.commit();
                }
            }
            try (MigrationHarness harness = new MigrationHarness(plan)) {
                harness.awaitPhase(Phase.STREAMING);
                harness.awaitCaughtUp();
            }
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                assertThat(PostgresFixture.scalar(t, "SELECT count(*) FROM t WHERE v LIKE 'across the stop %'")).isEqualTo("30000");
                assertThat(PostgresFixture.scalar(t, ALL_T)).as("t reads as on the source after the restart").isEqualTo(PostgresFixture.scalar(s, ALL_T));
            }
        } finally {
            fixture.setSource("logical_decoding_work_mem", null);
        }
    }


    /** Transactions the server streamed from this slot so far (its statistics are reported with a delay: polled). */
    private long streamedTransactions(String slot) throws Exception {
        try (Connection c = fixture.source(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT coalesce((SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = '"
                     + slot + "'), 0)")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private long awaitStreamed(String slot, long before) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        long now = streamedTransactions(slot);
        while (now <= before && System.currentTimeMillis() < deadline) {
            Thread.sleep(200);
            now = streamedTransactions(slot);
        }
        return now - before;
    }

    /** The spool directories of the slot's stream, under java.io.tmpdir, and the files in them. */
    private static List<Path> spools(String slot) throws Exception {
        try (Stream<Path> dirs = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            List<Path> mine = dirs.filter(d -> d.getFileName().toString().startsWith("migrator-" + slot + "-")).toList();
            List<Path> files = new java.util.ArrayList<>(mine);
            for (Path d : mine) {
                try (Stream<Path> in = Files.list(d)) {
                    files.addAll(in.toList());
                }
            }
            return files;
        }
    }

    private static void awaitSpooled(String slot) throws Exception {
        long deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline) {
            for (Path p : spools(slot)) {
                if (Files.isRegularFile(p) && Files.size(p) > 0) {
                    return;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the open transaction was never streamed into a spool");
    }

}
