package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.Assessment;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** The PostgreSQL preflight failures a running sandbox cannot show (they need a restart or another server). */
class PostgresPreflightTest {
    private static final Plan PLAN = new PlanLoader(Map.of()).parse("p.yaml", """
            name: p
            source: {engine: postgresql, host: h1, port: 5432, user: app, database: shop}
            target: {engine: postgresql, host: h2, port: 5432, user: app, database: shop}
            """, Path.of("."));
    private static final Map<TableId, PostgresServerFacts.TableFacts> TABLES = Map.of(new TableId("public", "orders"),
            new PostgresServerFacts.TableFacts(true, true, 'd', true, true, 40L << 30, 1_000_000, true));

    private static PostgresServerFacts facts(Consumer<Map<String, String>> settings, int version, int slotsUsed, double walRate) {
        Map<String, String> s = new HashMap<>(Map.of("wal_level", "logical", "max_replication_slots", "10", "max_wal_senders", "10",
                "max_slot_wal_keep_size", "-1"));
        settings.accept(s);
        return new PostgresServerFacts(version, version / 10000 + ".3", s, slotsUsed, 0, true, true, TABLES, Map.of(), List.of(), walRate,
                false, false);
    }

    private static Assessment only(List<Assessment> all, String check, Assessment.Severity severity) {
        return all.stream().filter(a -> a.check().equals(check) && a.severity() == severity).findFirst()
                .orElseThrow(() -> new AssertionError("no " + severity + " '" + check + "' in " + all));
    }

    @Test
    void walLevelBelowLogicalFailsWithTheSettingAndTheRdsParameter() {
        Assessment a = only(PostgresPreflight.source(PLAN, facts(s -> s.put("wal_level", "replica"), 150003, 0, 1e6)), "wal_level",
                Assessment.Severity.FAIL);
        assertThat(a.finding()).contains("replica");
        assertThat(a.remedy()).contains("wal_level = logical").contains("rds.logical_replication = 1");
    }

    @Test
    void noFreeSlotOrSenderFails() {
        List<Assessment> all = PostgresPreflight.source(PLAN, facts(s -> s.put("max_wal_senders", "0"), 150003, 10, 1e6));
        assertThat(only(all, "replication slots", Assessment.Severity.FAIL).remedy()).contains("max_replication_slots")
                .contains("pg_drop_replication_slot");
        assertThat(only(all, "WAL senders", Assessment.Severity.FAIL).remedy()).contains("max_wal_senders");
    }

    @Test
    void aServerWithoutPgoutputFails() {
        assertThat(only(PostgresPreflight.source(PLAN, facts(s -> { }, 90600, 0, 1e6)), "version", Assessment.Severity.FAIL).remedy())
                .contains("PostgreSQL 10");
    }

    @Test
    void aSlotWalLimitTheCopyWouldOutgrowFailsWithTheSizeToSet() {
        // 40 GB at 20 MB/s: about 2048 s of copy; 5 MB/s of WAL: about 10 GB held by the slot
        Assessment a = only(PostgresPreflight.source(PLAN, facts(s -> s.put("max_slot_wal_keep_size", "1024"), 150003, 0, 5 * 1_048_576.0)),
                "WAL retention", Assessment.Severity.FAIL);
        assertThat(a.finding()).contains("1024 MB").contains("invalidate");
        assertThat(a.remedy()).contains("ALTER SYSTEM SET max_slot_wal_keep_size = '20480MB'");
        assertThat(only(PostgresPreflight.source(PLAN, facts(s -> s.put("max_slot_wal_keep_size", "40960"), 150003, 0, 5 * 1_048_576.0)),
                "WAL retention", Assessment.Severity.OK).finding()).contains("covers");
    }

    @Test
    void anOlderTargetIsAWarningAndAStandbyTargetFails() {
        PostgresServerFacts source = facts(s -> { }, 160001, 0, 1e6);
        PostgresServerFacts standby = new PostgresServerFacts(140005, "14.5", Map.of(), 0, 0, true, true, Map.of(), Map.of(), List.of(), -1,
                true, false);
        List<Assessment> all = PostgresPreflight.target(PLAN, standby, source, false);
        assertThat(only(all, "writable", Assessment.Severity.FAIL).remedy()).contains("primary");
        Assessment standbySource = only(PostgresPreflight.source(PLAN, standby), "primary", Assessment.Severity.FAIL);
        assertThat(standbySource.finding()).contains("the source is a standby").contains("PostgreSQL 14.5 cannot decode changes on a standby");
        assertThat(standbySource.remedy()).contains("primary");
        assertThat(PostgresPreflight.source(PLAN, source)).noneMatch(a -> a.check().equals("primary"));
        PostgresServerFacts noReplicaRole = new PostgresServerFacts(160001, "16.1", Map.of(), 0, 0, true, true, Map.of(), Map.of(), List.of(),
                -1, false, false, Map.of(), List.of(), false);
        Assessment replicaRole = only(PostgresPreflight.target(PLAN, noReplicaRole, source, false), "replica role", Assessment.Severity.WARN);
        assertThat(replicaRole.finding()).contains("may not set session_replication_role on the target");
        assertThat(replicaRole.remedy()).contains("GRANT SET ON PARAMETER session_replication_role TO");
        assertThat(PostgresPreflight.target(PLAN, source, source, false)).filteredOn(a -> a.check().equals("replica role"))
                .singleElement().extracting(Assessment::severity).isEqualTo(Assessment.Severity.OK);
        assertThat(only(all, "version", Assessment.Severity.WARN).finding()).contains("14.5").contains("16.3");
    }

    @Test
    void tableNamesWithADoubleQuotePassAndAnIdentityIndexWithoutAPrimaryKeyIsTheKey() {
        Map<TableId, PostgresServerFacts.TableFacts> tables = Map.of(
                new TableId("public", "say \"hi\""), new PostgresServerFacts.TableFacts(true, true, 'd', true, true, 1L << 20, 1_000, true),
                new TableId("public", "by_index"), new PostgresServerFacts.TableFacts(false, true, 'i', true, true, 1L << 20, 1_000, true, true,
                        List.of(), "by_index_code", List.of("region", "code")));
        PostgresServerFacts f = new PostgresServerFacts(150003, "15.3", Map.of("wal_level", "logical", "max_replication_slots", "10",
                "max_wal_senders", "10", "max_slot_wal_keep_size", "-1"), 0, 0, true, true, tables, Map.of(), List.of(), 1e6, false, false);
        List<Assessment> all = PostgresPreflight.source(PLAN, f);
        assertThat(all).as("pgoutput names a relation as it is: a double quote in it is no problem").noneMatch(a -> a.check().equals("table names"));
        Assessment keys = only(all, "keys", Assessment.Severity.OK);
        assertThat(keys.finding()).contains("public.by_index: unique index by_index_code (region, code)");
    }

    @Test
    void aTableWithoutAKeyItsChangesCarryIsRefusedWithTheIdentityRemedyAndAWrongPlanKeyIsNamed() {
        Map<TableId, PostgresServerFacts.TableFacts> tables = new java.util.LinkedHashMap<>();
        tables.put(new TableId("public", "loose"), new PostgresServerFacts.TableFacts(false, false, 'd', true, true, 1L << 20, 1_000, true));
        tables.put(new TableId("public", "uniq"), new PostgresServerFacts.TableFacts(false, true, 'd', true, true, 1L << 20, 1_000, true));
        tables.put(new TableId("public", "full"), new PostgresServerFacts.TableFacts(false, true, 'f', true, true, 1L << 20, 1_000, true));
        tables.put(new TableId("public", "by_index"), new PostgresServerFacts.TableFacts(false, true, 'i', true, true, 1L << 20, 1_000, true, true,
                List.of(), "by_index_code", List.of("region", "code")));
        PostgresServerFacts f = new PostgresServerFacts(150003, "15.3", Map.of("wal_level", "logical", "max_replication_slots", "10",
                "max_wal_senders", "10", "max_slot_wal_keep_size", "-1"), 0, 0, true, true, tables, Map.of(), List.of(), 1e6, false, false);
        Plan plan = new PlanLoader(Map.of()).parse("p.yaml", """
                name: p
                source: {engine: postgresql, host: h1, user: u, database: shop}
                target: {engine: postgresql, host: h2, user: u, database: shop}
                tables: {keys: {by_index: [code], gone: [a]}}
                """, Path.of("."));
        List<Assessment> all = PostgresPreflight.source(plan, f);
        Assessment keys = all.stream().filter(a -> a.check().equals("keys") && a.finding().contains("cannot be identified")).findFirst().orElseThrow();
        assertThat(keys.finding()).contains("public.loose (no primary key and no unique index over NOT NULL columns)")
                .contains("public.uniq (no primary key, so REPLICA IDENTITY DEFAULT sends no key; ALTER TABLE \"public\".\"uniq\" REPLICA IDENTITY USING INDEX")
                .contains("public.by_index (tables.keys names (code), but its changes carry the REPLICA IDENTITY columns (region, code)")
                .contains("tables.keys names gone, which is not a table the plan moves");
        assertThat(keys.remedy()).contains("REPLICA IDENTITY USING INDEX").contains("tables.exclude");
        Assessment full = all.stream().filter(a -> a.check().equals("keys") && a.finding().contains("FULL")).findFirst().orElseThrow();
        assertThat(full.severity()).isEqualTo(Assessment.Severity.FAIL);
        assertThat(full.finding()).contains("public.full (ALTER TABLE \"public\".\"full\" REPLICA IDENTITY USING INDEX");
    }

    @Test
    void anIdentityIndexWithoutThePrimaryKeyColumnsIsRefusedAndOneWithThemPasses() {
        Map<TableId, PostgresServerFacts.TableFacts> tables = Map.of(
                new TableId("public", "by_email"), new PostgresServerFacts.TableFacts(true, true, 'i', true, true, 1L << 20, 1_000, true, false,
                        List.of("id"), "by_email_email_key", List.of("email")),
                new TableId("public", "by_id_and_email"), new PostgresServerFacts.TableFacts(true, true, 'i', true, true, 1L << 20, 1_000, true, true,
                        List.of("id"), "by_both", List.of("email", "id")));
        PostgresServerFacts f = new PostgresServerFacts(150003, "15.3", Map.of("wal_level", "logical", "max_replication_slots", "10",
                "max_wal_senders", "10", "max_slot_wal_keep_size", "-1"), 0, 0, true, true, tables, Map.of(), List.of(), 1e6, false, false);
        Assessment keys = only(PostgresPreflight.source(PLAN, f), "keys", Assessment.Severity.FAIL);
        assertThat(keys.finding()).contains("public.by_email (its REPLICA IDENTITY index lacks primary key columns")
                .contains("ALTER TABLE \"public\".\"by_email\" REPLICA IDENTITY DEFAULT").doesNotContain("by_id_and_email");
    }
}
