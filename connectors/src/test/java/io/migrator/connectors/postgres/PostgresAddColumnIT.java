package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.error.MigratorException;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Columns added on the source while streaming arrive on the target from pgoutput's Relation messages (pgoutput carries no
 * DDL text): with the source's type, collation, NOT NULL and default, and the rows the target already holds read the
 * value the source's existing rows read (the fast default, stored once at ALTER time: for {@code DEFAULT now()} that
 * very timestamp, not the target's own now()). A column added while no worker ran arrives at the restart. A column the
 * source filled row by row (a volatile default) stops the stream with what to do; once the DBA added it to the target
 * by hand with the source's values, the stream goes on. Everything is read back from both databases.
 */
@Timeout(300)
class PostgresAddColumnIT extends PostgresFixtureBase {
    private static String columns(Connection c, String table) throws Exception {
        StringBuilder out = new StringBuilder();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT attname, format_type(atttypid, atttypmod), "
                + "attnotnull, pg_get_expr(adbin, adrelid), (SELECT collname FROM pg_collation WHERE oid = attcollation) FROM pg_attribute "
                + "LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum WHERE attrelid = '" + table + "'::regclass AND attnum > 0 "
                + "AND NOT attisdropped ORDER BY attname")) {
            while (rs.next()) {
                out.append(rs.getString(1)).append(' ').append(rs.getString(2)).append(rs.getBoolean(3) ? " not null" : "")
                        .append(" default ").append(rs.getString(4)).append(" collate ").append(rs.getString(5)).append('\n');
            }
        }
        return out.toString();
    }

    /** The rows as JSON objects (columns by name: the target adds columns at the end, in another order), by key. */
    private static java.util.List<String> rows(Connection c, String table) throws Exception {
        java.util.List<String> rows = new java.util.ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT to_jsonb(x)::text FROM " + table + " x ORDER BY id")) {
            while (rs.next()) {
                rows.add(rs.getString(1));
            }
        }
        return rows;
    }

    private void assertSame(String table) throws Exception {
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            assertThat(rows(t, table)).as(table + " rows").isEqualTo(rows(s, table)).isNotEmpty();
            assertThat(columns(t, table)).as(table + " columns").isEqualTo(columns(s, table));
        }
    }

    @Test
    void columnsAddedOnTheSourceArriveWithTheirDefinitionAndTheValueTheExistingRowsRead(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgaddcol");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2))");
            st.execute("INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 200) g");
            st.execute("CREATE TABLE \"odd \"\"name\"\", here\" (id int PRIMARY KEY)");
            st.execute("INSERT INTO \"odd \"\"name\"\", here\" SELECT generate_series(1, 10)");
        }
        String plan = "";
        try (MigrationHarness run = new MigrationHarness(fixture.plan(plan))) {
            run.awaitPhase(Phase.STREAMING);
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("UPDATE orders SET total = total + 1 WHERE id <= 5");
                st.execute("ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new'");
                st.execute("ALTER TABLE orders ADD COLUMN created timestamptz DEFAULT now()"); // existing rows: the ALTER's moment
                st.execute("ALTER TABLE orders ADD COLUMN note text COLLATE \"C\"");
                st.execute("ALTER TABLE orders ADD COLUMN tags text[] DEFAULT '{\"a,b\",c}'");
                st.execute("INSERT INTO orders (id, total, note) VALUES (201, 9.99, 'streamed after the ALTERs')");
                st.execute("UPDATE orders SET status = 'paid' WHERE id BETWEEN 10 AND 20");
                st.execute("ALTER TABLE \"odd \"\"name\"\", here\" ADD COLUMN \"a \"\"col\"\", too\" int DEFAULT 7");
                st.execute("INSERT INTO \"odd \"\"name\"\", here\" VALUES (11, 8)");
            }
            Thread.sleep(50); // a moment later: the target's own now() would differ from the source's
            run.awaitCaughtUp();
            assertSame("orders");
            assertSame("\"odd \"\"name\"\", here\"");
        }

        // added while no worker ran: the restart's stream describes the table with it, and it is added then
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("ALTER TABLE orders ADD COLUMN region int DEFAULT 3");
            st.execute("UPDATE orders SET region = 4 WHERE id = 1");
        }
        try (MigrationHarness run = new MigrationHarness(fixture.plan(plan))) {
            run.awaitPhase(Phase.STREAMING);
            run.awaitCaughtUp();
            assertSame("orders");

            // filled row by row on the source: refused, with the remedy
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("ALTER TABLE orders ADD COLUMN token double precision DEFAULT random()");
                st.execute("UPDATE orders SET total = 0 WHERE id = 2");
            }
            Throwable failure = run.awaitFailure();
            assertThat(failure).isInstanceOf(MigratorException.class).hasMessageContaining("\"token\"")
                    .hasMessageContaining("random()").hasMessageContaining("add the column to the target by hand");
        }
        try (Connection s = fixture.source(); Connection t = fixture.target(); Statement ts = t.createStatement()) {
            // the DBA's remedy: the column on the target, with the source's values
            ts.execute("ALTER TABLE orders ADD COLUMN token double precision DEFAULT random()");
            try (Statement ss = s.createStatement(); ResultSet rs = ss.executeQuery("SELECT id, token FROM orders")) {
                while (rs.next()) {
                    ts.execute("UPDATE orders SET token = " + rs.getDouble(2) + " WHERE id = " + rs.getInt(1));
                }
            }
        }
        try (MigrationHarness run = new MigrationHarness(fixture.plan(plan))) {
            run.awaitPhase(Phase.STREAMING);
            run.awaitCaughtUp();
            assertSame("orders");
        }
    }
}
