package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Glob;
import io.migrator.core.plan.TableFilter;
import io.migrator.core.schema.TableDef;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Table definitions read from a PostgreSQL source recreate the same tables on a PostgreSQL target: types (enum, domain,
 * arrays of them), defaults, identity and generated columns, collations, primary keys, then, deferred, unique and check
 * constraints, foreign keys and partial indexes; the catalogs of both sides then describe the same tables.
 */
class PostgresSchemaIT extends PostgresFixtureBase {
    /** What the catalog says about a table: columns, constraints and indexes, as text. */
    private static List<String> describe(Connection c) throws Exception {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("""
                SELECT n.nspname || '.' || cl.relname || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                       || ' notnull=' || a.attnotnull || ' gen=' || a.attgenerated::text || ' id=' || a.attidentity::text
                       || ' default=' || COALESCE(pg_get_expr(d.adbin, d.adrelid), '') || ' coll=' || COALESCE(co.collname, '')
                FROM pg_attribute a JOIN pg_class cl ON cl.oid = a.attrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
                LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                LEFT JOIN pg_collation co ON co.oid = a.attcollation
                WHERE cl.relkind = 'r' AND n.nspname IN ('public', 'odd schema') AND a.attnum > 0 AND NOT a.attisdropped
                UNION ALL
                SELECT conrelid::regclass || ' constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
                WHERE connamespace IN (SELECT oid FROM pg_namespace WHERE nspname IN ('public', 'odd schema')) AND contype <> 'n'
                UNION ALL
                SELECT indexdef FROM pg_indexes WHERE schemaname IN ('public', 'odd schema')
                UNION ALL
                SELECT 'sequence ' || c.relname || ' ' || q.seqincrement || ' ' || q.seqmin || ' ' || q.seqmax || ' ' || q.seqstart || ' '
                       || q.seqcache || ' ' || q.seqcycle FROM pg_sequence q JOIN pg_class c ON c.oid = q.seqrelid
                UNION ALL
                SELECT 'type ' || t.typname || ' ' || t.typtype::text || ' ' || COALESCE((SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder)
                       FROM pg_enum WHERE enumtypid = t.oid), format_type(t.typbasetype, t.typtypmod))
                FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')
                ORDER BY 1""")) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    @Test
    void theTargetGetsTheSameTables(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "schema");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
            st.execute("CREATE DOMAIN positive AS integer CHECK (VALUE > 0)");
            st.execute("""
                    CREATE TABLE accounts (
                      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                      email text NOT NULL UNIQUE,
                      name text COLLATE "C" NOT NULL DEFAULT 'anonymous',
                      balance numeric(20,4) NOT NULL DEFAULT 0 CHECK (balance >= 0),
                      moods mood[] DEFAULT '{ok}',
                      current_mood mood,
                      qty positive,
                      created timestamptz NOT NULL DEFAULT now(),
                      doubled numeric GENERATED ALWAYS AS (balance * 2) STORED)""");
            st.execute("CREATE INDEX accounts_recent ON accounts (created DESC) WHERE balance > 0");
            st.execute("CREATE SCHEMA \"odd schema\"");
            st.execute("""
                    CREATE TABLE "odd schema"."line items" (order_id text, "line no" int, account bigint REFERENCES accounts (id),
                      PRIMARY KEY (order_id, "line no"))""");
            st.execute("CREATE TABLE skipped (id int PRIMARY KEY)");
            // a sequence no column owns, in a schema of its own, that two tables' defaults call (legacy schemas do this)
            st.execute("CREATE SCHEMA \"seq.s\"");
            st.execute("CREATE SEQUENCE \"seq.s\".\"order no\" START 100");
            st.execute("CREATE TABLE tickets (id serial PRIMARY KEY, code bigserial, note text, ref bigint DEFAULT nextval('\"seq.s\".\"order no\"'),"
                    + " countdown int GENERATED BY DEFAULT AS IDENTITY (INCREMENT BY -1 MINVALUE -1000 MAXVALUE -1 START WITH -1))");
            // a foreign key onto a unique index (not a constraint): the index must come back before the key
            st.execute("CREATE TABLE codes (id int PRIMARY KEY DEFAULT nextval('\"seq.s\".\"order no\"'), code text NOT NULL)");
            st.execute("CREATE UNIQUE INDEX codes_code ON codes (code)");
            st.execute("CREATE TABLE uses (id int PRIMARY KEY, code text REFERENCES codes (code))");
            st.execute("INSERT INTO tickets (note) SELECT 'n' || g FROM generate_series(1, 250) g");
            st.execute("INSERT INTO accounts (email) SELECT 'a' || g || '@x' FROM generate_series(1, 40) g");
        }
        TableFilter filter = new TableFilter(List.of(Glob.compile("*")), List.of(Glob.compile("skipped")));
        List<TableDef> tables;
        List<String> types;
        List<String> sequences;
        List<String> ownership;
        List<String> deferred = new ArrayList<>();
        try (Connection c = fixture.source()) {
            tables = PostgresSchema.tables(c, filter);
            types = PostgresSchema.types(c, tables);
            sequences = PostgresSchema.sequences(c, tables);
            ownership = PostgresSchema.ownership(c, tables);
            deferred.addAll(PostgresSchema.deferred(c, tables));
        }
        assertThat(tables).extracting(t -> t.id().toString()).containsExactly("odd schema.line items", "public.accounts", "public.codes",
                "public.tickets", "public.uses");
        assertThat(sequences).hasSize(4).filteredOn(q -> q.contains("tickets_")).hasSize(2)
                .allSatisfy(q -> assertThat(q).startsWith("CREATE SEQUENCE IF NOT EXISTS public.tickets_"));
        assertThat(sequences).as("the shared unowned sequence once, after its schema")
                .containsSubsequence("CREATE SCHEMA IF NOT EXISTS \"seq.s\"", sequences.stream().filter(q -> q.contains("\"order no\"")).findFirst().orElseThrow());
        assertThat(String.join("\n", sequences)).containsOnlyOnce("\"seq.s\".\"order no\" AS bigint");
        assertThat(ownership).noneMatch(q -> q.contains("order no"));
        assertThat(tables.get(0).key()).containsExactly("order_id", "line no");
        assertThat(tables.get(1).column("doubled").generated()).isTrue();
        try (Connection c = fixture.target(); Statement st = c.createStatement()) {
            for (String s : PostgresSchema.schemas(tables)) {
                st.execute(s);
            }
            for (String s : types) {
                st.execute(s);
                st.execute(s); // again, as a restart would
            }
            for (String q : sequences) {
                st.execute(q);
                st.execute(q);
            }
            for (TableDef t : List.of(tables.get(1), tables.get(0), tables.get(2), tables.get(3), tables.get(4))) {
                st.execute(t.createStatement());
            }
            for (String q : ownership) {
                st.execute(q);
            }
            for (String s : deferred) {
                st.execute(s);
                st.execute(s); // idempotent: a restart in the middle finishes the rest
            }
        }
        try (Connection s = fixture.source(); Connection t = fixture.target(); Statement skip = s.createStatement()) {
            skip.execute("DROP TABLE skipped");
            assertThat(describe(t)).isEqualTo(describe(s));

            // sequences: the target's next ids come after every id the source handed out, and a sync never lowers one
            assertThat(PostgresSchema.syncSequences(s, t, tables)).hasSize(5);
            try (Statement st = t.createStatement()) {
                st.execute("INSERT INTO tickets (note) VALUES ('first on the target')");
                st.execute("INSERT INTO accounts (email) VALUES ('first@target')");
                try (ResultSet rs = st.executeQuery("SELECT (SELECT max(id) FROM tickets), (SELECT max(code) FROM tickets), "
                        + "(SELECT max(id) FROM accounts), (SELECT min(countdown) FROM tickets), (SELECT max(ref) FROM tickets), "
                        + "pg_get_serial_sequence('tickets', 'ref')")) {
                    rs.next();
                    assertThat(rs.getLong(5)).as("the unowned sequence went on after the source's 250 calls from 100").isEqualTo(350);
                    assertThat(rs.getString(6)).as("and stays unowned, as on the source").isNull();
                    assertThat(rs.getLong(1)).isEqualTo(251);
                    assertThat(rs.getLong(2)).isEqualTo(251);
                    assertThat(rs.getLong(3)).isEqualTo(41);
                    assertThat(rs.getLong(4)).as("a descending identity keeps its direction and goes on below the source").isEqualTo(-251);
                }
                st.execute("SELECT setval(pg_get_serial_sequence('tickets', 'id'), 9000)");
            }
            assertThat(PostgresSchema.syncSequences(s, t, tables)).as("nothing to raise, nothing lowered").isEmpty();
            try (Statement st = t.createStatement(); ResultSet rs = st.executeQuery("SELECT last_value FROM tickets_id_seq")) {
                rs.next();
                assertThat(rs.getLong(1)).isEqualTo(9000);
            }
        }
    }
}
