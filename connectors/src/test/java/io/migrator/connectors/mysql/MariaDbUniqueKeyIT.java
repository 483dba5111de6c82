package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.KeyedTables;
import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Tables without a primary key, keyed by a unique index over NOT NULL columns: a composite one migrator chooses (over a
 * unique index on a nullable column), and a single-column one the plan names ({@code tables.keys}) over another. A
 * writer inserts, updates, deletes and changes keys from the copy through streaming; the target then equals the source
 * row for row, and a validation finds differences planted on the target by that key, and repair fixes them.
 */
@Timeout(300)
class MariaDbUniqueKeyIT extends MariaDbFixtureBase {
    @Test
    void tablesKeyedByAUniqueIndexCopyStreamValidateAndRepairByIt(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "ukey");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE codes (note VARCHAR(40) NULL, code VARCHAR(20) NOT NULL, region INT NOT NULL, qty INT, "
                    + "UNIQUE KEY a_note (note), UNIQUE KEY by_code (region, code))");
            st.execute("INSERT INTO codes SELECT IF(seq % 3 = 0, NULL, CONCAT('note', seq)), CONCAT('c', seq), seq % 10, seq % 7 FROM seq_1_to_20000");
            st.execute("CREATE TABLE `Token Set` (token VARCHAR(40) NOT NULL, uid INT NOT NULL, body TEXT, UNIQUE KEY by_token (token), "
                    + "UNIQUE KEY by_uid (uid))");
            st.execute("INSERT INTO `Token Set` SELECT MD5(seq), seq, REPEAT('b', seq % 200) FROM seq_1_to_8000");
        }
        Plan plan = fixture.plan("""
                snapshot: {chunkRows: 1500, parallelism: 2, maxRowsPerSecond: 8000}
                validation: {chunkRows: 2500}
                tables: {keys: {Token Set: [uid]}}""");
        try (MigrationHarness run = new MigrationHarness(plan)) {
            Map<String, TableDef> tables = run.source.tables(plan.tables()).stream().collect(Collectors.toMap(t -> t.id().name(), t -> t));
            assertThat(tables.get("codes").keyDescription()).isEqualTo("unique index by_code (region, code)");
            assertThat(tables.get("Token Set").keyDescription()).as("the plan's choice").isEqualTo("unique index by_uid (uid)");

            KeyedTables.writeThroughCopyAndStreaming(run, fixture::source, MariaDbUniqueKeyIT::writes);
            assertSame();
            KeyedTables.findAndRepair(run, () -> KeyedTables.plant(fixture::target, "`Token Set`", "body"));
            assertSame();
        }
    }

    private void assertSame() throws SQLException {
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            assertThat(MariaDbFixture.rows(t, "codes", "region, code")).containsExactlyElementsOf(MariaDbFixture.rows(s, "codes", "region, code"));
            assertThat(MariaDbFixture.rows(t, "Token Set", "uid")).containsExactlyElementsOf(MariaDbFixture.rows(s, "Token Set", "uid"));
        }
    }

    /** Inserts, updates, deletes and key changes on codes; a key change or a change of the other unique column on Token Set. */
    private static KeyedTables.Step writes(Connection c) throws SQLException {
        PreparedStatement insert = c.prepareStatement("INSERT IGNORE INTO codes VALUES (NULL, ?, ?, 1)");
        List<PreparedStatement> byKey = List.of(c.prepareStatement("UPDATE codes SET qty = qty + 1, note = NULL WHERE region = ? AND code = ?"),
                c.prepareStatement("UPDATE IGNORE codes SET code = CONCAT(code, 'x') WHERE region = ? AND code = ?"),
                c.prepareStatement("DELETE FROM codes WHERE region = ? AND code = ?"));
        PreparedStatement reuid = c.prepareStatement("UPDATE IGNORE `Token Set` SET uid = uid + 100000 WHERE uid = ?");
        PreparedStatement retoken = c.prepareStatement("UPDATE IGNORE `Token Set` SET token = CONCAT('t', ?, token), body = 'new' WHERE uid = ?");
        return KeyedTables.codesAndTokens(insert, byKey, reuid, 1, retoken);
    }
}
