package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every type of the issue goes through the copy (rows there before the run) and through the stream (the same rows
 * written again while it streams), from sessions in other time zones; updates that leave a toasted column unchanged,
 * primary-key changes of rows with toasted values, deletes and NULL against empty all arrive. Afterwards each table
 * reads the same on both servers, row for row, as PostgreSQL prints it.
 */
@Timeout(600)
class PostgresMigrationIT extends PostgresFixtureBase {
    private static final String COLUMNS = """
            id bigint PRIMARY KEY,
            n_big numeric(60,30), n_any numeric, cash money, ints int[], texts text[], j json, jb jsonb, u uuid,
            at timestamptz, local_at timestamp(6), d date, t time, iv interval, b bytea, m mood, moods mood[], p positive_int,
            ip inet, net cidr, r int4range, tr tstzrange, f4 real, f8 double precision, flag boolean, c char(5), v varchar(20),
            doc text, twice bigint GENERATED ALWAYS AS (id * 2) STORED""";

    /** One row per id with every type; {@code big} is the size of the toasted text column. */
    private static String values(long from, long to, String big) {
        return """
                SELECT g, (g::numeric / 7)::numeric(60,30), CASE WHEN g %% 5 = 0 THEN 'NaN'::numeric ELSE g * 1.0e-20 END, (g * 1.25)::money,
                       ARRAY[g::int, -g::int, NULL], ARRAY['a"b', 'c\\d', NULL, '', 'x,y {z}'], json_build_object('k', g, 's', 'é'),
                       jsonb_build_object('nested', jsonb_build_array(g, 'two')), md5(g::text)::uuid,
                       '2026-03-29 01:30:00+01'::timestamptz + g * interval '1 hour', '1999-12-31 23:59:59.999999'::timestamp - g * interval '1 day',
                       CASE WHEN g %% 7 = 0 THEN '0044-03-15 BC'::date ELSE '2026-01-01'::date + g::int END,
                       CASE WHEN g %% 11 = 0 THEN '24:00:00'::time ELSE '12:34:56.789012'::time END,
                       make_interval(years => 1, months => -2, days => g::int, secs => 3.5), decode(md5(g::text) || '00ff', 'hex'),
                       (ARRAY['sad', 'ok', 'happy'])[1 + g %% 3]::mood, ARRAY['ok', 'sad']::mood[], g::int, ('10.0.' || (g %% 250) || '.1')::inet,
                       '192.168.0.0/16'::cidr, int4range(g::int, g::int + 10), tstzrange('2026-01-01 00:00+00', '2026-06-01 00:00+00', '[)'),
                       CASE WHEN g %% 13 = 0 THEN 'Infinity'::real ELSE g / 3.0 END, g / 3.0 + 1e-12, g %% 2 = 0, 'ab', CASE WHEN g %% 3 = 0 THEN '' END,
                       CASE WHEN g %% 10 = 1 THEN %s ELSE 'short ' || g END
                FROM generate_series(%d, %d) g""".formatted(big, from, to);
    }

    @Test
    void everyTypeArrivesThroughCopyAndStreamAndToastedValuesSurviveUpdatesThatLeaveThemUnchanged(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgmig");
        // a value PostgreSQL stores out of line and does not compress below the TOAST threshold
        String toasted = "(SELECT string_agg(md5(random()::text || i), '') FROM generate_series(1, 400) i)";
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
            st.execute("CREATE DOMAIN positive_int AS int CHECK (VALUE > 0)");
            st.execute("CREATE TABLE \"Odd Name-1\" (" + COLUMNS + ")");
            st.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, tag text, UNIQUE (tag))");
            st.execute("CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)");
            st.execute("CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')");
            st.execute("CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY HASH (id)");
            st.execute("CREATE TABLE events_2026_a PARTITION OF events_2026 FOR VALUES WITH (MODULUS 2, REMAINDER 0)");
            st.execute("CREATE TABLE events_2026_b PARTITION OF events_2026 FOR VALUES WITH (MODULUS 2, REMAINDER 1)");
            st.execute("CREATE INDEX events_what ON events (what)");
            st.execute("CREATE TABLE scratch (id int PRIMARY KEY, note text)");
            st.execute("CREATE TABLE scratch_ref (id int PRIMARY KEY, scratch_id int REFERENCES scratch (id))");
            st.execute("INSERT INTO scratch SELECT g, 'old' FROM generate_series(1, 100) g");
            st.execute("INSERT INTO scratch_ref SELECT g, g FROM generate_series(1, 10) g");
            st.execute("INSERT INTO events SELECT g, '2025-06-01'::date + (g % 300), 'e' || g FROM generate_series(1, 2000) g");
            st.execute("SET TIME ZONE 'America/New_York'");
            st.execute("INSERT INTO \"Odd Name-1\" " + values(1, 300, toasted));
            st.execute("INSERT INTO notes (body, tag) SELECT repeat('n', g), 'tag' || g FROM generate_series(1, 50) g");
            st.execute("INSERT INTO \"Odd Name-1\" (id, doc) VALUES (100000, repeat('Z', 100 * 1024 * 1024))"); // 100 MB through COPY
        }
        Plan plan = fixture.plan("snapshot: {parallelism: 2, chunkRows: 100}");
        long drained = PostgresCopy.drainedMessages();
        try (MigrationHarness harness = new MigrationHarness(plan)) {
            harness.awaitPhase(Phase.STREAMING);
            assertThat(PostgresCopy.drainedMessages() - drained).as("the snapshot's chunks read rows straight from the protocol stream")
                    .isGreaterThanOrEqualTo(2300);
            try (Connection t = fixture.target(); Statement st = t.createStatement(); ResultSet rs = st.executeQuery(
                    "SELECT count(DISTINCT tablename) FROM pg_stats WHERE schemaname = 'public' AND tablename IN ('Odd Name-1', 'notes', 'events')")) {
                rs.next();
                assertThat(rs.getInt(1)).as("the copied tables were analyzed before streaming: the planner has column statistics").isEqualTo(3);
            }
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("SET TIME ZONE 'Asia/Kolkata'");
                st.execute("INSERT INTO \"Odd Name-1\" " + values(1001, 1300, toasted));
                // toasted column unchanged: the stream sends a placeholder, which must never reach the target
                st.execute("UPDATE \"Odd Name-1\" SET f8 = f8 + 1, v = 'touched' WHERE id % 10 = 1");
                // key change of rows whose toasted value is unchanged: the new row is inserted with its full value
                st.execute("UPDATE \"Odd Name-1\" SET id = id + 500000 WHERE id IN (11, 21, 1011)");
                st.execute("DELETE FROM \"Odd Name-1\" WHERE id % 10 = 3");
                st.execute("UPDATE \"Odd Name-1\" SET v = NULL, c = NULL WHERE id % 10 = 4");
                st.execute("UPDATE \"Odd Name-1\" SET doc = repeat('Y', 5 * 1024 * 1024) WHERE id = 1001"); // changed toasted value
                // several 3 MB values in one statement: the applier splits its multi-row statement by size
                st.execute("UPDATE \"Odd Name-1\" SET doc = repeat(chr((65 + id % 20)::int), 3 * 1024 * 1024) WHERE id BETWEEN 1002 AND 1008");
                st.execute("INSERT INTO \"Odd Name-1\" (id, doc, texts) VALUES (100001, repeat('W', 100 * 1024 * 1024), '{}')"); // 100 MB streamed
                st.execute("UPDATE events SET what = 'moved', at = at + 200 WHERE id % 10 = 0"); // many across partitions
                st.execute("DELETE FROM events WHERE id % 10 = 1");
                st.execute("INSERT INTO events SELECT g, '2026-02-01', 'new' FROM generate_series(3000, 3100) g");
                st.execute("TRUNCATE scratch, scratch_ref"); // replayed in order, foreign key and all
                st.execute("INSERT INTO scratch VALUES (7, 'after the truncate')");
                st.execute("BEGIN");
                st.execute("UPDATE notes SET tag = NULL WHERE id = 1");
                st.execute("UPDATE notes SET tag = 'tag1' WHERE id = 2 AND false");
                st.execute("INSERT INTO notes (body, tag) VALUES ('', 'fresh')");
                st.execute("DELETE FROM notes WHERE id = 3");
                // unique keys swapped between two rows: applied in the order of each row's last change, 11 collides with 10
                st.execute("UPDATE notes SET tag = 'swap' WHERE id = 10");
                st.execute("UPDATE notes SET tag = 'tag10' WHERE id = 11");
                st.execute("UPDATE notes SET tag = 'tag11' WHERE id = 10");
                st.execute("COMMIT");
            }
            harness.awaitCaughtUp();
            assertThat(java.lang.management.ManagementFactory.getPlatformMBeanServer().queryNames(new javax.management.ObjectName("debezium.postgres:*"), null))
                    .as("the WAL is read with pgoutput straight, no Debezium engine").isEmpty();
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                for (String table : List.of("\"Odd Name-1\"", "notes", "events", "scratch", "scratch_ref")) {
                    List<String> sourceRows = PostgresFixture.rows(s, table, "id");
                    List<String> targetRows = PostgresFixture.rows(t, table, "id");
                    assertThat(targetRows.size()).as(table).isEqualTo(sourceRows.size());
                    for (int i = 0; i < sourceRows.size(); i++) {
                        String sr = sourceRows.get(i);
                        String tr = targetRows.get(i);
                        assertThat(tr).as("%s row %d", table, i).isEqualTo(sr);
                    }
                    assertThat(String.join("\n", targetRows)).doesNotContain(io.migrator.core.change.RowChange.UNCHANGED.toString());
                }
                try (Statement st = t.createStatement(); ResultSet rs = st.executeQuery("SELECT (SELECT relkind FROM pg_class WHERE relname = 'events'), "
                        + "(SELECT count(*) FROM pg_inherits WHERE inhparent IN ('events'::regclass, 'events_2026'::regclass)), "
                        + "(SELECT count(*) FROM events_2026_b)")) {
                    rs.next();
                    assertThat(rs.getString(1)).as("the target table is partitioned").isEqualTo("p");
                    assertThat(rs.getInt(2)).as("partitions and sub-partitions").isEqualTo(4);
                    assertThat(rs.getInt(3)).as("rows routed to a sub-partition").isPositive();
                }
                try (Statement st = t.createStatement(); ResultSet rs = st.executeQuery(
                        "SELECT count(*) FILTER (WHERE length(doc) > 1000000), count(*) FROM \"Odd Name-1\" WHERE id IN (100000, 100001, 1001)")) {
                    rs.next();
                    assertThat(rs.getInt(1)).as("the large values").isEqualTo(3);
                }
                // logical replication carries no sequences: the target's follow the source's every few seconds while streaming
                boolean caughtUp = false;
                for (long deadline = System.currentTimeMillis() + 20_000; !caughtUp && System.currentTimeMillis() < deadline; Thread.sleep(200)) {
                    try (Statement st = t.createStatement(); ResultSet rs = st.executeQuery(
                            "SELECT last_value >= (SELECT max(id) FROM notes) FROM notes_id_seq")) {
                        rs.next();
                        caughtUp = rs.getBoolean(1);
                    }
                }
                assertThat(caughtUp).as("the serial's sequence reaches every id the source handed out, streamed rows included").isTrue();
            }
        }
    }
}
