package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/**
 * Types beyond the list, through the copy and the stream: geometric types (Debezium turns {@code point} into a
 * struct), text search, xml, pg_lsn, MAC addresses, bit varying with leading zeros (Debezium keeps only the bits' value),
 * oid, and user-defined types built from each other: a composite holding a domain and an enum, arrays of composites, a
 * domain with a default, a range type, in a schema of their own. Then what the Debezium-based stream could not carry
 * (preflight refused it): a domain over an enum, a bit varying primary key with leading zeros, a table whose name holds a
 * double quote and a table keyed by a unique index whose column names hold {@code ;}, {@code :} and {@code ,}. Every row is
 * compared as the server prints it.
 */
class PostgresTypesIT extends PostgresFixtureBase {
    private static final String SET = """
            p = point(-id, 1.5), l = line(point(0, 0), point(1, id)), ls = lseg(point(1, 1), point(id, 2)),
            bx = box(point(1, 1), point(id, 3)), pa = path(polygon(box(point(1, 1), point(id, 3)))), po = polygon(box(point(1, 1), point(id, 3))),
            ci = circle(point(0, id), 1), x = '<b n="2"/>', tv = to_tsvector('simple', 'jumps ' || id), tq = to_tsquery('jumps & !fox'),
            lsn = '1/0', mac = '01:02:03:04:05:06', mac8 = '01:02:03:04:05:06:07:08', vb = B'0001', vb2 = B'', bf = B'0000000001', o = 7,
            c = row(-id, 'u', 'happy')::kinds.pair, ca = array[row(1, 'q"x', null)::kinds.pair, null], fr = '[1.5,2.5)', mo = DEFAULT, fm = '{[-1,0]}'
            """;

    @Test
    void geometricTextSearchBitVaryingAndNestedUserTypesArriveThroughCopyAndStream(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgtypes");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE SCHEMA kinds");
            st.execute("CREATE TYPE kinds.mood AS ENUM ('sad', 'ok', 'happy')");
            st.execute("CREATE DOMAIN kinds.small AS int DEFAULT 7 CHECK (VALUE < 1000)");
            st.execute("CREATE TYPE kinds.pair AS (a kinds.small, b text, m kinds.mood)");
            st.execute("CREATE TYPE kinds.floatrange AS RANGE (SUBTYPE = float8)"); // and its multirange, kinds.floatmultirange
            st.execute("ALTER DOMAIN kinds.small ADD CONSTRAINT above CHECK (VALUE > -1000) NOT VALID");
            st.execute("""
                    CREATE TABLE g (id int PRIMARY KEY, p point, l line, ls lseg, bx box, pa path, po polygon, ci circle, x xml,
                      tv tsvector, tq tsquery, lsn pg_lsn, mac macaddr, mac8 macaddr8, vb bit varying(20), vb2 varbit, bf bit(10), o oid,
                      c kinds.pair, ca kinds.pair[], fr kinds.floatrange, mo kinds.small, fm kinds.floatmultirange)""");
            st.execute("""
                    INSERT INTO g SELECT g, point(g, g / 2.0), line(point(0, 0), point(g, 1)), lseg(point(0, 0), point(g, g)),
                      box(point(0, 0), point(g, g)), path(polygon(box(point(0, 0), point(g, 1)))), polygon(box(point(0, 0), point(g, 2))),
                      circle(point(g, 0), g), ('<a n="' || g || '">x</a>')::xml, to_tsvector('english', 'the quick fox ' || g),
                      to_tsquery('fox & ' || g), ('0/' || g)::pg_lsn, '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', B'00101', B'0', B'0000000101',
                      g, row(g, 't' || g, 'happy')::kinds.pair, array[row(g, 'x', 'ok')::kinds.pair, row(-g, null, null)::kinds.pair],
                      kinds.floatrange(0.25, g), 5, '{[1,2), [3,4)}'
                    FROM generate_series(1, 30) g""");
        }
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE DOMAIN kinds.feeling AS kinds.mood CHECK (VALUE <> 'sad')");
            st.execute("CREATE TABLE kinds.\"say \"\"hi\"\"\" (k bit varying(16) PRIMARY KEY, f kinds.feeling, fs kinds.feeling[])");
            st.execute("INSERT INTO kinds.\"say \"\"hi\"\"\" VALUES (B'0001', 'ok', '{ok,happy}'), (B'001', 'happy', NULL), (B'01', NULL, '{}')");
            st.execute("CREATE TABLE odd_key (\"a;b\" int NOT NULL, \"c:d,e\" text NOT NULL, v text)");
            st.execute("CREATE UNIQUE INDEX odd_key_k ON odd_key (\"a;b\", \"c:d,e\")");
            st.execute("ALTER TABLE odd_key REPLICA IDENTITY USING INDEX odd_key_k");
            st.execute("INSERT INTO odd_key VALUES (1, 'x,y', 'one'), (2, 'x:y', 'two'), (3, 'z', 'three')");
        }
        try (MigrationHarness harness = new MigrationHarness(fixture.plan("snapshot: {parallelism: 2, chunkRows: 100}"))) {
            harness.awaitPhase(Phase.STREAMING);
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("UPDATE g SET " + SET + " WHERE id <= 10");
                st.execute("INSERT INTO g (id, p, vb, c, ca) VALUES (100, point(1, 2), B'0000000000000000001', row(1, 'new', 'ok')::kinds.pair, '{}')");
                st.execute("UPDATE g SET vb = NULL, c = NULL, ca = NULL, tv = NULL WHERE id = 11");
                st.execute("DELETE FROM g WHERE id = 12");
                st.execute("INSERT INTO kinds.\"say \"\"hi\"\"\" VALUES (B'0000', 'happy', '{happy}'), (B'00', 'ok', NULL), (B'0010', NULL, NULL)");
                st.execute("UPDATE kinds.\"say \"\"hi\"\"\" SET f = 'happy', fs = '{ok}' WHERE k = B'001'");
                st.execute("UPDATE kinds.\"say \"\"hi\"\"\" SET k = B'00001' WHERE k = B'01'"); // a key change
                st.execute("DELETE FROM kinds.\"say \"\"hi\"\"\" WHERE k = B'0010'");
                st.execute("INSERT INTO odd_key VALUES (4, 'w;v', 'four'), (5, 'q', 'five')");
                st.execute("UPDATE odd_key SET v = 'changed' WHERE \"a;b\" = 1");
                st.execute("UPDATE odd_key SET \"c:d,e\" = 'moved,again' WHERE \"a;b\" = 2");
                st.execute("DELETE FROM odd_key WHERE \"a;b\" = 3");
            }
            harness.awaitCaughtUp();
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                assertThat(PostgresFixture.rows(t, "g", "id")).hasSize(30).isEqualTo(PostgresFixture.rows(s, "g", "id"));
                assertThat(PostgresFixture.rows(t, "kinds.\"say \"\"hi\"\"\"", "k")).hasSize(5).isEqualTo(PostgresFixture.rows(s, "kinds.\"say \"\"hi\"\"\"", "k"));
                assertThat(PostgresFixture.rows(t, "odd_key", "\"a;b\", \"c:d,e\"")).hasSize(4)
                        .isEqualTo(PostgresFixture.rows(s, "odd_key", "\"a;b\", \"c:d,e\""));
                try (Statement st = t.createStatement(); var rs = st.executeQuery("SELECT vb::text, (c).m::text, mo::text FROM g WHERE id = 1")) {
                    rs.next();
                    assertThat(rs.getString(1)).as("bit varying keeps its leading zeros").isEqualTo("0001");
                    assertThat(rs.getString(2)).isEqualTo("happy");
                    assertThat(rs.getString(3)).as("the domain's default was recreated on the target").isEqualTo("7");
                }
            }
        }
    }
}
