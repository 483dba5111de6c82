package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.spi.Fence;
import io.migrator.core.state.Phase;
import io.migrator.core.state.ValidationReport;
import io.migrator.core.validate.ValidationService;
import io.migrator.core.validate.Validator;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Row parity against real servers: every kind of injected difference is found with its key, kind and column; repeated
 * validations under a concurrent write load report nothing (no false positives); repair then validate passes.
 */
@ExtendWith(SandboxExtension.class)
class MariaDbValidationIT {
    private MariaDbFixture fixture;

    @AfterEach
    void drop() {
        if (fixture != null) {
            fixture.drop();
        }
    }

    private void createTables() throws Exception {
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE accounts (id INT PRIMARY KEY, owner VARCHAR(40), note VARCHAR(40), balance DECIMAL(20,4) NOT NULL, "
                    + "photo BLOB, updated TIMESTAMP(6) NULL, score DOUBLE)");
            st.execute("INSERT INTO accounts SELECT seq, CONCAT('owner-', seq), IF(seq % 7 = 0, '', CONCAT('n', seq)), seq * 1.2345, "
                    + "UNHEX(REPEAT(MD5(seq), 4)), FROM_UNIXTIME(1700000000 + seq), seq / 3 FROM seq_1_to_25000");
            st.execute("CREATE TABLE `line items` (order_id VARCHAR(20) NOT NULL, line INT NOT NULL, qty INT, PRIMARY KEY (order_id, line))");
            st.execute("INSERT INTO `line items` SELECT CONCAT('o', seq % 500), seq, seq % 9 FROM seq_1_to_6000");
        }
    }

    @Test
    void everyInjectedDifferenceIsFoundRepairedAndNothingElse(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "val");
        createTables();
        try (MigrationHarness run = new MigrationHarness(fixture.plan("snapshot: {chunkRows: 4000}\nvalidation: {chunkRows: 3000}"))) {
            run.awaitPhase(Phase.STREAMING);
            run.awaitCaughtUp();
            ValidationReport clean = run.migration.validate(List.of(), false);
            assertThat(clean.ok()).isTrue();
            assertThat(clean.rowsCompared()).isEqualTo(31_000);
            assertThat(clean.tables()).allSatisfy(t -> assertThat(t.mismatches()).isEmpty());

            // differences made on the target behind the migration's back, one of each kind
            try (Connection t = fixture.target(); Statement st = t.createStatement()) {
                st.execute("DELETE FROM accounts WHERE id = 101");                                       // missing
                st.execute("INSERT INTO accounts (id, owner, balance) VALUES (900001, 'ghost', 0)");      // extra
                st.execute("UPDATE accounts SET owner = 'someone else' WHERE id = 202");                 // one column
                st.execute("UPDATE accounts SET note = NULL WHERE id = 7");                              // '' -> NULL
                st.execute("UPDATE accounts SET owner = CONCAT(owner, ' ') WHERE id = 303");             // trailing space
                st.execute("UPDATE accounts SET balance = balance + 0.0001 WHERE id = 404");             // last digit of a DECIMAL
                st.execute("UPDATE accounts SET photo = CONCAT(LEFT(photo, 20), 'X', SUBSTRING(photo, 22)) WHERE id = 505"); // one byte
                st.execute("UPDATE accounts SET owner = 'OWNER-606' WHERE id = 606");                    // case only
                st.execute("UPDATE accounts SET updated = updated + INTERVAL 1 MICROSECOND WHERE id = 707");
                st.execute("UPDATE `line items` SET qty = qty + 1 WHERE order_id = 'o7' AND line = 7");
            }
            ValidationReport found = run.migration.validate(List.of(), false);
            assertThat(found.ok()).isFalse();
            assertThat(found.state()).isEqualTo("mismatch");
            assertThat(found.mismatchCount()).isEqualTo(10);
            ValidationReport.TableResult accounts = table(found, "accounts");
            assertThat(accounts.rowsCompared()).as("source rows compared").isEqualTo(25_000);
            assertThat(kinds(accounts)).containsExactlyInAnyOrder(
                    "missing id=101 []", "extra id=900001 []", "different id=202 [owner]", "different id=7 [note]",
                    "different id=303 [owner]", "different id=404 [balance]", "different id=505 [photo]", "different id=606 [owner]",
                    "different id=707 [updated]");
            assertThat(kinds(table(found, "line items"))).containsExactly("different order_id=o7,line=7 [qty]");
            assertThat(found.parityPercent()).isLessThan(100.0).isGreaterThan(99.9);
            assertThat(run.migration.status().validation().state()).isEqualTo("mismatch");
            assertThat(run.migration.status().validation().mismatches()).isEqualTo(10);
            assertThat(run.migration.status().cutoverReady()).as("not ready with known mismatches").isFalse();

            ValidationReport repaired = run.migration.validate(List.of("accounts", "line*"), true);
            assertThat(repaired.mismatchCount()).isEqualTo(10);
            assertThat(repaired.tables()).flatExtracting(ValidationReport.TableResult::mismatches)
                    .allSatisfy(m -> assertThat(m.repaired()).as(m.toString()).isTrue());
            ValidationReport after = run.migration.validate(List.of(), false);
            assertThat(after.ok()).isTrue();
            assertThat(after.mismatchCount()).isZero();
            assertThat(run.target.lastValidation().orElseThrow().state()).as("stored on the target").isEqualTo("passed");
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                assertThat(MariaDbFixture.rows(t, "accounts", "id")).containsExactlyElementsOf(MariaDbFixture.rows(s, "accounts", "id"));
            }
        }
    }

    @Test
    void repeatedValidationsUnderWriteLoadReportNoMismatch(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "valload");
        createTables();
        try (MigrationHarness run = new MigrationHarness(fixture.plan("validation: {chunkRows: 2500}"))) {
            run.awaitPhase(Phase.STREAMING);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong writes = new AtomicLong();
            AtomicReference<Throwable> error = new AtomicReference<>();
            Thread writer = new Thread(() -> write(stop, writes, error), "writer");
            writer.start();
            try {
                List<ValidationReport> reports = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    reports.add(run.migration.validate(List.of(), false));
                }
                assertThat(error.get()).isNull();
                assertThat(writes.get()).as("the load ran during the validations").isGreaterThan(200);
                assertThat(reports).allSatisfy(r -> {
                    assertThat(r.mismatchCount()).as(r.toString()).isZero();
                    assertThat(r.rowsCompared()).isGreaterThan(30_000);
                });
                assertThat(reports).as("the load made ranges differ, and the recheck cleared them")
                        .anySatisfy(r -> assertThat(r.tables().stream().mapToLong(ValidationReport.TableResult::chunksRechecked).sum()).isPositive());
            } finally {
                stop.set(true);
                writer.join();
            }
            // without a worker in between (the fence is a second read), on a quiet source: still no phantom
            run.awaitCaughtUp();
            ValidationReport offline = new Validator(run.source, run.target, Fence.NOTHING_IN_FLIGHT, (t, k) -> { },
                    ValidationService.options(run.migration.plan(), false)).validate(run.source.tables(run.migration.plan().tables()));
            assertThat(offline.ok()).as(offline.toString()).isTrue();
        }
    }

    /**
     * `migrator validate` when no worker answers: refused while a worker still holds the migration's claim (it applies
     * changes the validation could not fence), and once it stopped, a validation and a repair straight on the stored state.
     */
    @Test
    void withoutAWorkerValidationWaitsForTheClaimThenRepairsAtTheCheckpoint(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "valoff");
        createTables();
        io.migrator.core.plan.Plan plan = fixture.plan("");
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            run.awaitCaughtUp();
            assertThatThrownBy(() -> ValidationService.withoutWorker(plan, run.source, run.target, List.of(), false, m -> { }))
                    .isInstanceOf(io.migrator.core.error.MigratorException.class)
                    .hasMessageContaining("is applying changes to the target")
                    .hasMessageContaining("pid " + ProcessHandle.current().pid());
        }
        try (Connection t = fixture.target(); Statement st = t.createStatement()) {
            st.execute("UPDATE accounts SET owner = 'changed behind its back' WHERE id = 42");
            st.execute("DELETE FROM `line items` WHERE order_id = 'o3' AND line = 3");
        }
        var connector = io.migrator.core.spi.EngineConnectors.discover().forEngine(plan.source().engine());
        List<String> said = new ArrayList<>();
        try (var source = connector.openSource(plan); var target = connector.openTarget(plan)) {
            ValidationReport repaired = ValidationService.withoutWorker(plan, source, target, List.of(), true, said::add);
            assertThat(said).singleElement().asString().contains("no worker runs for " + plan.name());
            assertThat(kinds(table(repaired, "accounts"))).containsExactly("different id=42 [owner]");
            assertThat(kinds(table(repaired, "line items"))).containsExactly("missing order_id=o3,line=3 []");
            assertThat(repaired.tables()).flatExtracting(ValidationReport.TableResult::mismatches)
                    .allSatisfy(m -> assertThat(m.repaired()).as(m.toString()).isTrue());
        }
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            assertThat(MariaDbFixture.rows(t, "accounts", "id")).containsExactlyElementsOf(MariaDbFixture.rows(s, "accounts", "id"));
            assertThat(MariaDbFixture.rows(t, "line items", "order_id, line"))
                    .containsExactlyElementsOf(MariaDbFixture.rows(s, "line items", "order_id, line"));
        }
    }

    private void write(AtomicBoolean stop, AtomicLong writes, AtomicReference<Throwable> error) {
        Random random = new Random(7);
        try (Connection c = fixture.source();
             PreparedStatement update = c.prepareStatement("UPDATE accounts SET balance = balance + 1, updated = NOW(6) WHERE id = ?");
             PreparedStatement insert = c.prepareStatement("INSERT INTO accounts (id, owner, balance) VALUES (?, 'new', 1) "
                     + "ON DUPLICATE KEY UPDATE owner = 'again'");
             PreparedStatement delete = c.prepareStatement("DELETE FROM accounts WHERE id = ?");
             PreparedStatement hot = c.prepareStatement("UPDATE `line items` SET qty = qty + 1 WHERE order_id = 'o1' AND line = 1")) {
            while (!stop.get()) {
                int id = 1 + random.nextInt(25_000);
                switch (random.nextInt(4)) {
                    case 0 -> {
                        insert.setInt(1, 30_000 + random.nextInt(5_000));
                        insert.executeUpdate();
                    }
                    case 1 -> {
                        delete.setInt(1, id);
                        delete.executeUpdate();
                    }
                    case 2 -> hot.executeUpdate();
                    default -> {
                        update.setInt(1, id);
                        update.executeUpdate();
                    }
                }
                writes.incrementAndGet();
                Thread.sleep(1);
            }
        } catch (Throwable e) {
            error.set(e);
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
