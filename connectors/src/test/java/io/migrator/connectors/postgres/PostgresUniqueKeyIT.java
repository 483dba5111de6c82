package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.KeyedTables;
import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Tables without a primary key whose REPLICA IDENTITY is a unique index (PostgreSQL's own way to give such a table a row
 * identity), composite and single-column: a writer inserts, updates, deletes and changes keys (one with a toasted value
 * left unchanged) from the copy through streaming; the target then equals the source row for row and keeps the replica
 * identity, and a validation finds differences planted on the target by that key, and repair fixes them.
 */
@Timeout(300)
class PostgresUniqueKeyIT extends PostgresFixtureBase {
    @Test
    void tablesKeyedByTheirReplicaIdentityIndexCopyStreamValidateAndRepairByIt(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgukey");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE codes (note text UNIQUE, code text NOT NULL, region int NOT NULL, qty int)");
            st.execute("CREATE UNIQUE INDEX codes_key ON codes (region, code)");
            st.execute("ALTER TABLE codes REPLICA IDENTITY USING INDEX codes_key");
            st.execute("INSERT INTO codes SELECT CASE WHEN g % 3 = 0 THEN NULL ELSE 'note' || g END, 'c' || g, g % 10, g % 7 "
                    + "FROM generate_series(1, 20000) g");
            st.execute("CREATE TABLE \"Token Set\" (token text NOT NULL UNIQUE, uid int NOT NULL, doc text, CONSTRAINT by_uid UNIQUE (uid))");
            st.execute("ALTER TABLE \"Token Set\" REPLICA IDENTITY USING INDEX by_uid");
            st.execute("INSERT INTO \"Token Set\" SELECT md5(g::text), g, CASE WHEN g % 40 = 0 THEN "
                    + "(SELECT string_agg(md5(g::text || i), '') FROM generate_series(1, 100) i) END FROM generate_series(1, 8000) g");
            st.execute("ANALYZE");
        }
        Plan plan = fixture.plan("""
                snapshot: {chunkRows: 1500, parallelism: 2, maxRowsPerSecond: 8000}
                validation: {chunkRows: 2500}""");
        try (MigrationHarness run = new MigrationHarness(plan)) {
            Map<String, TableDef> tables = run.source.tables(plan.tables()).stream().collect(Collectors.toMap(t -> t.id().name(), t -> t));
            assertThat(tables.get("codes").keyDescription()).isEqualTo("unique index codes_key (region, code)");
            assertThat(tables.get("Token Set").keyDescription()).isEqualTo("unique index by_uid (uid)");

            KeyedTables.writeThroughCopyAndStreaming(run, fixture::source, PostgresUniqueKeyIT::writes);
            assertSame();
            try (Connection t = fixture.target(); Statement st = t.createStatement();
                 ResultSet rs = st.executeQuery("SELECT c.relname || ' ' || c.relreplident::text || ' ' || i.relname FROM pg_class c JOIN pg_index x "
                         + "ON x.indrelid = c.oid AND x.indisreplident JOIN pg_class i ON i.oid = x.indexrelid "
                         + "WHERE c.relname IN ('codes', 'Token Set') ORDER BY 1")) {
                List<String> identities = new ArrayList<>();
                while (rs.next()) {
                    identities.add(rs.getString(1));
                }
                assertThat(identities).as("the target keeps the replica identity").containsExactly("Token Set i by_uid", "codes i codes_key");
            }
            KeyedTables.findAndRepair(run, () -> KeyedTables.plant(fixture::target, "\"Token Set\"", "doc", "SET session_replication_role = replica"));
            assertSame();
        }
    }

    private void assertSame() throws SQLException {
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            assertThat(PostgresFixture.rows(t, "codes", "region, code")).containsExactlyElementsOf(PostgresFixture.rows(s, "codes", "region, code"));
            assertThat(PostgresFixture.rows(t, "\"Token Set\"", "uid")).containsExactlyElementsOf(PostgresFixture.rows(s, "\"Token Set\"", "uid"));
        }
    }

    /**
     * Inserts, updates, deletes and key changes on codes; on Token Set a key change (of rows with a toasted doc too, which
     * the new key's row needs though pgoutput leaves it out) or a change of the other unique column.
     */
    private static KeyedTables.Step writes(Connection c) throws SQLException {
        PreparedStatement insert = c.prepareStatement("INSERT INTO codes VALUES (NULL, ?, ?, 1) ON CONFLICT DO NOTHING");
        List<PreparedStatement> byKey = List.of(c.prepareStatement("UPDATE codes SET qty = qty + 1, note = NULL WHERE region = ? AND code = ?"),
                c.prepareStatement("UPDATE codes SET code = code || 'x' WHERE region = ? AND code = ? "
                        + "AND NOT EXISTS (SELECT 1 FROM codes n WHERE n.region = codes.region AND n.code = codes.code || 'x')"),
                c.prepareStatement("DELETE FROM codes WHERE region = ? AND code = ?"));
        PreparedStatement reuid = c.prepareStatement("UPDATE \"Token Set\" SET uid = uid + 100000 WHERE uid = ? AND uid < 100000 "
                + "AND NOT EXISTS (SELECT 1 FROM \"Token Set\" WHERE uid = ? + 100000)");
        PreparedStatement retoken = c.prepareStatement("UPDATE \"Token Set\" SET token = 't' || ? || token WHERE uid = ?");
        return KeyedTables.codesAndTokens(insert, byKey, reuid, 2, retoken, () -> 40 * (1 + java.util.concurrent.ThreadLocalRandom.current().nextInt(200)));
    }
}
