package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.state.Phase;
import io.migrator.core.state.ValidationReport;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Row parity on PostgreSQL: a clean migration validates equal; differences made on the target behind the migration's back
 * (one of each kind, down to a microsecond, a trailing space, one byte, case, '' against NULL, one element of an array) are
 * each found with the column that differs, nothing else is reported, and {@code --repair} fixes them through the applier.
 */
@Timeout(300)
class PostgresValidationIT extends PostgresFixtureBase {
    @Test
    void everyInjectedDifferenceIsFoundRepairedAndNothingElse(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgval");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE accounts (id int PRIMARY KEY, owner text, note text, balance numeric(20,4) NOT NULL, photo bytea, "
                    + "updated timestamptz, score double precision, tags text[], cash money)");
            st.execute("INSERT INTO accounts SELECT g, 'owner-' || g, CASE WHEN g % 7 = 0 THEN '' ELSE 'n' || g END, g * 1.2345, "
                    + "decode(repeat(md5(g::text), 4), 'hex'), to_timestamp(1700000000 + g), g / 3.0, ARRAY['a', g::text], g "
                    + "FROM generate_series(1, 25000) g");
            st.execute("CREATE TABLE \"line items\" (order_id text NOT NULL, line int NOT NULL, qty int, PRIMARY KEY (order_id, line))");
            st.execute("INSERT INTO \"line items\" SELECT 'o' || (g % 500), g, g % 9 FROM generate_series(1, 6000) g");
            st.execute("ANALYZE");
        }
        try (MigrationHarness run = new MigrationHarness(fixture.plan("snapshot: {chunkRows: 4000}\nvalidation: {chunkRows: 3000}"))) {
            run.awaitPhase(Phase.STREAMING);
            run.awaitCaughtUp();
            ValidationReport clean = run.migration.validate(List.of(), false);
            assertThat(clean.ok()).as(clean.toString()).isTrue();
            assertThat(clean.rowsCompared()).isEqualTo(31_000);

            try (Connection t = fixture.target(); Statement st = t.createStatement()) {
                st.execute("SET session_replication_role = replica");
                st.execute("DELETE FROM accounts WHERE id = 101");                                            // missing
                st.execute("INSERT INTO accounts (id, owner, balance) VALUES (900001, 'ghost', 0)");           // extra
                st.execute("UPDATE accounts SET owner = 'someone else' WHERE id = 202");                      // one column
                st.execute("UPDATE accounts SET note = NULL WHERE id = 7");                                   // '' -> NULL
                st.execute("UPDATE accounts SET owner = owner || ' ' WHERE id = 303");                        // trailing space
                st.execute("UPDATE accounts SET balance = balance + 0.0001 WHERE id = 404");                  // last digit
                st.execute("UPDATE accounts SET photo = overlay(photo placing '\\x58'::bytea from 21 for 1) WHERE id = 505"); // one byte
                st.execute("UPDATE accounts SET owner = 'OWNER-606' WHERE id = 606");                         // case only
                st.execute("UPDATE accounts SET updated = updated + interval '1 microsecond' WHERE id = 707");
                st.execute("UPDATE accounts SET tags[2] = 'x' WHERE id = 808");                               // an array element
                st.execute("UPDATE \"line items\" SET qty = qty + 1 WHERE order_id = 'o7' AND line = 7");
            }
            ValidationReport found = run.migration.validate(List.of(), false);
            assertThat(found.state()).isEqualTo("mismatch");
            assertThat(found.mismatchCount()).isEqualTo(11);
            ValidationReport.TableResult accounts = table(found, "accounts");
            assertThat(accounts.rowsCompared()).isEqualTo(25_000);
            assertThat(kinds(accounts)).containsExactlyInAnyOrder(
                    "missing id=101 []", "extra id=900001 []", "different id=202 [owner]", "different id=7 [note]",
                    "different id=303 [owner]", "different id=404 [balance]", "different id=505 [photo]", "different id=606 [owner]",
                    "different id=707 [updated]", "different id=808 [tags]");
            assertThat(kinds(table(found, "line items"))).containsExactly("different order_id=o7,line=7 [qty]");

            ValidationReport repaired = run.migration.validate(List.of(), true);
            assertThat(repaired.mismatchCount()).isEqualTo(11);
            assertThat(repaired.tables()).flatExtracting(ValidationReport.TableResult::mismatches)
                    .allSatisfy(m -> assertThat(m.repaired()).as(m.toString()).isTrue());
            ValidationReport after = run.migration.validate(List.of(), false);
            assertThat(after.ok()).isTrue();
            assertThat(after.mismatchCount()).isZero();
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                assertThat(PostgresFixture.rows(t, "accounts", "id")).containsExactlyElementsOf(PostgresFixture.rows(s, "accounts", "id"));
            }
        }
    }

    private static ValidationReport.TableResult table(ValidationReport report, String name) {
        return report.tables().stream().filter(t -> t.table().endsWith("." + name)).findFirst().orElseThrow();
    }

    private static List<String> kinds(ValidationReport.TableResult table) {
        List<String> out = new ArrayList<>();
        for (ValidationReport.Mismatch m : table.mismatches()) {
            StringBuilder key = new StringBuilder();
            for (Map.Entry<String, Object> e : m.key().entrySet()) {
                key.append(key.length() == 0 ? "" : ",").append(e.getKey()).append('=').append(e.getValue());
            }
            out.add(m.kind() + " " + key + " " + m.columns());
        }
        return out;
    }
}
