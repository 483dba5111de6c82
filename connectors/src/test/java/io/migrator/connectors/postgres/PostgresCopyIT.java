package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Secret;
import io.migrator.core.plan.TableFilter;
import io.migrator.core.schema.TableDef;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The copy reads the database as of the slot's creation, whatever is written afterwards, with two workers importing the
 * same exported snapshot and each copying a key range; every type arrives byte for byte (binary COPY, not parsed).
 */
@ExtendWith(SandboxExtension.class)
class PostgresCopyIT {
    private PostgresFixture fixture;
    private String slot;

    @AfterEach
    void drop() throws Exception {
        if (fixture != null) {
            try (Connection c = PostgresFixture.connect(fixture.source, "postgres")) {
                PostgresCopy.dropSlot(c, slot);
            }
            fixture.close();
        }
    }

    private static String digest(Connection c) throws Exception {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM items t")) {
            rs.next();
            return rs.getString(1);
        }
    }

    /**
     * Copies the rows {@code where} selects into the target table inside the target connection's open transaction, the
     * way a snapshot chunk goes: {@link PostgresCopy#drain} from the source's COPY into the target's COPY through a 64 KB
     * {@code PGCopyOutputStream}, as PostgresTarget's raw sink does; returns the rows the target took. {@code where} may
     * be any SQL over the table (the tests pick row ranges, or call a function that raises notices).
     */
    static long copy(Connection source, Connection target, TableDef table, String where) throws Exception {
        String list = table.writableColumns().stream().map(c -> PostgresDialect.quote(c.name())).collect(java.util.stream.Collectors.joining(", "));
        String select = "SELECT " + list + " FROM " + PostgresDialect.quote(table.id()) + (where == null ? "" : " WHERE " + where);
        String format = PostgresCopy.binarySafe(source, table) ? "binary" : "text";
        org.postgresql.copy.CopyOut reader = source.unwrap(org.postgresql.PGConnection.class).getCopyAPI()
                .copyOut("COPY (" + select + ") TO STDOUT (FORMAT " + format + ")");
        org.postgresql.copy.CopyIn writer = target.unwrap(org.postgresql.PGConnection.class).getCopyAPI()
                .copyIn("COPY " + PostgresDialect.quote(table.id()) + " (" + list + ") FROM STDIN (FORMAT " + format + ")");
        try {
            org.postgresql.copy.PGCopyOutputStream sink = new org.postgresql.copy.PGCopyOutputStream(writer, PostgresCopy.DRAIN_BYTES);
            PostgresCopy.drain(source, reader, (buffer, length) -> {
                try {
                    sink.write(buffer, 0, length);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            return sink.endCopy();
        } finally {
            for (org.postgresql.copy.CopyOperation op : new org.postgresql.copy.CopyOperation[] {writer, reader}) {
                if (op.isActive()) {
                    op.cancelCopy();
                }
            }
        }
    }

    @Test
    void workersOnTheExportedSnapshotCopyTheStateAtTheSlot(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "copy");
        slot = fixture.db + "_slot";
        String db = fixture.db;
        SandboxEndpoint source = fixture.source;
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
            st.execute("""
                    CREATE TABLE items (id int PRIMARY KEY, v text, b bytea, at timestamptz, arr int[], j jsonb, n numeric(40,20),
                      m mood, big text, twice int GENERATED ALWAYS AS (id * 2) STORED)""");
            st.execute("CREATE TABLE moods (id int PRIMARY KEY, history mood[])"); // enum array: element OIDs differ between servers
            st.execute("INSERT INTO moods SELECT g, ARRAY['sad', 'happy']::mood[] FROM generate_series(1, 100) g");
            st.execute("""
                    INSERT INTO items (id, v, b, at, arr, j, n, m, big)
                    SELECT g, CASE WHEN g % 10 = 0 THEN NULL WHEN g % 10 = 1 THEN '' ELSE 'héllo 🛒 ' || g END,
                           decode(md5(g::text), 'hex'), '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second',
                           ARRAY[g, -g], jsonb_build_object('k', g, 'nested', jsonb_build_array(g)), g / 7.0,
                           (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood, CASE WHEN g = 5 THEN repeat('x', 3000000) END
                    FROM generate_series(1, 20000) g""");
        }
        String before;
        try (Connection c = fixture.source()) {
            before = digest(c);
        }
        Endpoint endpoint = new Endpoint(Engine.POSTGRESQL, source.host(), source.port(), source.user(), Secret.of(source.password()), db,
                List.of(), false);
        TableDef table;
        try (Connection c = fixture.source(); Connection t = fixture.target(); Statement st = t.createStatement()) {
            List<TableDef> tables = PostgresSchema.tables(c, TableFilter.ALL);
            table = tables.stream().filter(x -> x.id().name().equals("items")).findFirst().orElseThrow();
            for (String s : PostgresSchema.types(c, tables)) {
                st.execute(s);
            }
            for (TableDef t2 : tables) {
                st.execute(t2.createStatement());
            }
        }
        try (PostgresCopy.Snapshot snapshot = PostgresCopy.createSlot(endpoint, db, slot)) {
            assertThat(snapshot.name()).isNotBlank();
            // written after the slot: not in the copy (the stream will bring them from the slot's consistent point)
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("UPDATE items SET v = 'changed later' WHERE id <= 100");
                st.execute("DELETE FROM items WHERE id BETWEEN 200 AND 300");
                st.execute("INSERT INTO items (id, v) VALUES (999999, 'late')");
            }
            long rows = 0;
            long forwarded = PostgresCopy.drainedMessages();
            for (String range : List.of("id <= 10000", "id > 10000")) { // two workers, one snapshot
                try (Connection s = fixture.source(); Connection t = fixture.target()) {
                    PostgresCopy.importSnapshot(s, snapshot.name());
                    t.setAutoCommit(false);
                    rows += copy(s, t, table, range);
                    t.commit();
                    s.commit();
                }
            }
            assertThat(rows).isEqualTo(20000);
            assertThat(PostgresCopy.drainedMessages() - forwarded).as("rows were read straight from the protocol stream, not one pgjdbc call per row")
                    .isBetween(20000L, 20004L); // one message per row, and binary COPY's header and trailer
            TableDef moods = null;
            try (Connection c = fixture.source()) {
                for (TableDef t2 : PostgresSchema.tables(c, TableFilter.ALL)) {
                    if (t2.id().name().equals("moods")) {
                        moods = t2;
                    }
                }
                assertThat(PostgresCopy.binarySafe(c, moods)).isFalse();
                assertThat(PostgresCopy.binarySafe(c, table)).isTrue();
            }
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                PostgresCopy.importSnapshot(s, snapshot.name());
                t.setAutoCommit(false);
                assertThat(copy(s, t, moods, null)).isEqualTo(100);
                t.commit();
                s.commit();
            }
        }
        try (Connection t = fixture.target()) {
            assertThat(digest(t)).as("the target holds the source as of the slot, every type byte for byte").isEqualTo(before);
            try (Statement st = t.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM moods WHERE history = '{sad,happy}'")) {
                rs.next();
                assertThat(rs.getInt(1)).as("an enum array, copied as text").isEqualTo(100);
            }
            try (Statement st = t.createStatement(); ResultSet rs = st.executeQuery("SELECT twice, length(big) FROM items WHERE id = 5")) {
                rs.next();
                assertThat(rs.getInt(1)).as("generated column computed by the target").isEqualTo(10);
                assertThat(rs.getInt(2)).as("a TOASTed value").isEqualTo(3_000_000);
            }
        }
        try (Connection c = PostgresFixture.connect(source, "postgres"); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + slot + "' AND plugin = 'pgoutput'")) {
            rs.next();
            assertThat(rs.getInt(1)).as("the slot outlives the snapshot, holding the WAL for the stream").isEqualTo(1);
        }
    }

    /**
     * A message other than CopyData in the middle of the rows (here a NOTICE raised while the source reads them) is handed to
     * pgjdbc, and the rows after it still arrive: none lost, none twice.
     */
    @Test
    void noticesBetweenRowsDoNotLoseRows(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "copynotice");
        slot = fixture.db + "_slot";
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE items (id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO items SELECT g, repeat(md5(g::text), 1 + g % 50) FROM generate_series(1, 30000) g");
            st.execute("""
                    CREATE FUNCTION noisy(i int) RETURNS boolean LANGUAGE plpgsql AS $$
                    BEGIN IF i % 1000 = 0 THEN RAISE NOTICE 'row %', i; END IF; RETURN true; END $$""");
        }
        String before;
        TableDef table;
        try (Connection c = fixture.source(); Connection t = fixture.target(); Statement st = t.createStatement()) {
            before = digest(c);
            table = PostgresSchema.tables(c, TableFilter.ALL).stream().filter(x -> x.id().name().equals("items")).findFirst().orElseThrow();
            st.execute(table.createStatement());
        }
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            t.setAutoCommit(false);
            long forwarded = PostgresCopy.drainedMessages();
            assertThat(copy(s, t, table, "noisy(id)")).isEqualTo(30000);
            t.commit();
            // 30 notices: the row after each comes back through pgjdbc, every other row (and the header and trailer) is read directly
            assertThat(PostgresCopy.drainedMessages() - forwarded).as("the notices handed rows back to pgjdbc").isBetween(29000L, 29999L);
        }
        try (Connection t = fixture.target()) {
            assertThat(digest(t)).isEqualTo(before);
        }
    }

    /**
     * A row the target refuses in the middle of the forwarded rows fails the chunk with the target's own message, and both
     * connections serve the next statement: nothing is left half-read or half-written on either side.
     */
    @Test
    void aRowTheTargetRefusesFailsTheCopyAndLeavesBothConnectionsUsable(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "copyrefused");
        slot = fixture.db + "_slot";
        TableDef table;
        try (Connection c = fixture.source(); Connection t = fixture.target(); Statement st = c.createStatement(); Statement tt = t.createStatement()) {
            st.execute("CREATE TABLE items (id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO items SELECT g, repeat('v', 200) FROM generate_series(1, 50000) g");
            table = PostgresSchema.tables(c, TableFilter.ALL).stream().filter(x -> x.id().name().equals("items")).findFirst().orElseThrow();
            tt.execute(table.createStatement());
            tt.execute("ALTER TABLE items ADD CONSTRAINT small_ids CHECK (id < 30000)");
        }
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            t.setAutoCommit(false);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> copy(s, t, table, null))
                    .isInstanceOf(java.sql.SQLException.class).hasMessageContaining("small_ids");
            t.rollback();
            try (Statement st = s.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM items")) {
                rs.next();
                assertThat(rs.getInt(1)).as("the source connection answers the next query").isEqualTo(50000);
            }
            try (Statement st = t.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM items")) {
                rs.next();
                assertThat(rs.getInt(1)).as("the target connection answers, and the refused copy left nothing").isZero();
            }
        }
    }
}
