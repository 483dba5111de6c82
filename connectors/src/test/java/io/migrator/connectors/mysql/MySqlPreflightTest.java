package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.spi.Assessment;
import io.migrator.core.spi.Role;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** One test per preflight failure: each names the problem and gives the remedy. */
class MySqlPreflightTest {
    private static final Plan PLAN = new PlanLoader(Map.of()).parse("p.yaml", """
            name: p
            source: {engine: mariadb, host: h1, port: 3306, user: u, database: shop}
            target: {engine: mysql, host: h2, port: 3306, user: u, database: shop}
            """, Path.of("."));
    private static final List<String> ALL = List.of("GRANT ALL PRIVILEGES ON *.* TO `migrator`@`%` WITH GRANT OPTION");

    private static MySqlServerFacts facts(Consumer<Map<String, String>> vars, List<String> grants, Map<String, Long> rows,
                                          List<String> keyless, Map<String, List<String>> unsupported, long bytes, boolean state) {
        Map<String, String> v = new HashMap<>(Map.of("log_bin", "ON", "binlog_format", "ROW", "binlog_row_image", "FULL",
                "server_id", "1", "binlog_expire_logs_seconds", "604800", "read_only", "OFF", "gtid_binlog_pos", "0-1-5"));
        vars.accept(v);
        Map<String, Long> tables = new java.util.TreeMap<>(rows);
        Map<String, List<MySqlKeys.Index>> uniques = new HashMap<>();
        for (String t : tables.keySet()) {
            uniques.put(t, List.of(new MySqlKeys.Index("PRIMARY", List.of("id"), true)));
        }
        keyless.forEach(t -> tables.put(t, 0L));
        return new MySqlServerFacts(true, "10.11.6-MariaDB", v, grants, tables, uniques, unsupported, bytes, true, state, Map.of());
    }

    private static MySqlServerFacts good() {
        return facts(v -> { }, ALL, Map.of(), List.of(), Map.of(), 0, false);
    }

    private static Assessment failed(List<Assessment> assessments, String check) {
        return assessments.stream().filter(a -> a.check().equals(check)).findFirst()
                .filter(a -> a.severity() == Assessment.Severity.FAIL)
                .orElseThrow(() -> new AssertionError("no failed '" + check + "' in " + assessments));
    }

    @Test
    void aWellConfiguredSourceAndTargetPass() {
        assertThat(MySqlPreflight.source(PLAN, good())).allMatch(a -> a.severity() == Assessment.Severity.OK);
        assertThat(MySqlPreflight.target(PLAN, good())).allMatch(a -> a.severity() == Assessment.Severity.OK);
    }

    @Test
    void binaryLogOff() {
        Assessment a = failed(MySqlPreflight.source(PLAN, facts(v -> v.put("log_bin", "OFF"), ALL, Map.of(), List.of(), Map.of(), 0, false)), "binary log");
        assertThat(a.finding()).contains("log_bin is OFF");
        assertThat(a.remedy()).contains("log_bin").contains("restart");
    }

    @Test
    void statementOrMixedFormat() {
        Assessment a = failed(MySqlPreflight.source(PLAN, facts(v -> v.put("binlog_format", "MIXED"), ALL, Map.of(), List.of(), Map.of(), 0, false)), "binlog format");
        assertThat(a.finding()).contains("binlog_format is MIXED");
        assertThat(a.remedy()).contains("SET GLOBAL binlog_format = 'ROW'");
    }

    @Test
    void minimalRowImage() {
        Assessment a = failed(MySqlPreflight.source(PLAN, facts(v -> v.put("binlog_row_image", "MINIMAL"), ALL, Map.of(), List.of(), Map.of(), 0, false)), "binlog row image");
        assertThat(a.finding()).contains("MINIMAL");
        assertThat(a.remedy()).contains("binlog_row_image = 'FULL'");
    }

    @Test
    void serverIdZero() {
        Assessment a = failed(MySqlPreflight.source(PLAN, facts(v -> v.put("server_id", "0"), ALL, Map.of(), List.of(), Map.of(), 0, false)), "server id");
        assertThat(a.remedy()).contains("server_id");
    }

    @Test
    void retentionShorterThanTheCopy() {
        Assessment a = failed(MySqlPreflight.source(PLAN, facts(v -> v.put("binlog_expire_logs_seconds", "600"), ALL, Map.of(), List.of(),
                Map.of(), 100L << 30, false)), "binlog retention");
        assertThat(a.finding()).contains("kept 600 s").contains("102400 MB");
        assertThat(a.remedy()).contains("binlog_expire_logs_seconds");
    }

    @Test
    void missingGrantsArePrintedAsGrantStatements() {
        List<String> grants = List.of("GRANT USAGE ON *.* TO `app`@`%`", "GRANT SELECT ON `other`.* TO `app`@`%`");
        Assessment a = failed(MySqlPreflight.source(PLAN, facts(v -> { }, grants, Map.of(), List.of(), Map.of(), 0, false)), "privileges");
        assertThat(a.remedy()).contains("GRANT SELECT ON `shop`.* TO `app`@`%`").contains("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `app`@`%`");
        Assessment t = failed(MySqlPreflight.target(PLAN, facts(v -> { }, grants, Map.of(), List.of(), Map.of(), 0, false)), "privileges");
        assertThat(t.remedy()).startsWith("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX ON *.* TO `app`@`%`")
                .contains("ON `shop`.* TO `app`@`%`").contains("ON `migrator`.* TO `app`@`%`");
    }

    @Test
    void databaseGrantsOnTheTargetAndBookkeepingDatabasesAreEnough() {
        List<String> both = List.of("GRANT USAGE ON *.* TO `app`@`%`", "GRANT ALL PRIVILEGES ON `shop`.* TO `app`@`%`",
                "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX ON `migrator`.* TO `app`@`%`");
        assertThat(MySqlPreflight.target(PLAN, facts(v -> { }, both, Map.of(), List.of(), Map.of(), 0, false)))
                .filteredOn(a -> a.check().equals("privileges")).singleElement()
                .satisfies(a -> assertThat(a.severity()).isEqualTo(Assessment.Severity.OK));
        List<String> onlyShop = List.of("GRANT USAGE ON *.* TO `app`@`%`", "GRANT ALL PRIVILEGES ON `shop`.* TO `app`@`%`");
        assertThat(failed(MySqlPreflight.target(PLAN, facts(v -> { }, onlyShop, Map.of(), List.of(), Map.of(), 0, false)), "privileges")
                .finding()).contains("SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX");
    }

    @Test
    void grantsThroughRolesAndDatabasePatternsCountAndTableGrantsDoNot() {
        // MySQL's SHOW GRANTS ... USING the current roles: the role's lines name the role, not the user
        List<String> viaRole = List.of("GRANT USAGE ON *.* TO `app`@`%`", "GRANT `reader`@`%` TO `app`@`%`",
                "GRANT REPLICATION SLAVE,REPLICATION CLIENT ON *.* TO `app`@`%`", "GRANT SELECT ON `sh%`.* TO `app`@`%`");
        assertThat(MySqlPreflight.source(PLAN, facts(v -> { }, viaRole, Map.of(), List.of(), Map.of(), 0, false)))
                .filteredOn(a -> a.check().equals("privileges")).singleElement()
                .satisfies(a -> assertThat(a.severity()).as("SELECT through `sh%`, replication through the role").isEqualTo(Assessment.Severity.OK));
        // a pattern that does not match, table and column grants: SELECT on the database is still missing
        List<String> narrow = List.of("GRANT USAGE ON *.* TO `app`@`%`", "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `app`@`%`",
                "GRANT SELECT ON `shop\\_archive`.* TO `app`@`%`", "GRANT SELECT ON `shop`.`orders` TO `app`@`%`",
                "GRANT SELECT (`id`), INSERT ON TABLE `shop`.`customers` TO `app`@`%`");
        assertThat(failed(MySqlPreflight.source(PLAN, facts(v -> { }, narrow, Map.of(), List.of(), Map.of(), 0, false)), "privileges").remedy())
                .isEqualTo("GRANT SELECT ON `shop`.* TO `app`@`%`");
        assertThat(MySqlGrants.like("sh\\_%", "sh_prod")).isTrue();
        assertThat(MySqlGrants.like("sh\\_%", "shxprod")).isFalse();
        assertThat(MySqlGrants.like("s_op", "shop")).isTrue();
        assertThat(MySqlGrants.like("%", "")).isTrue();
        assertThat(MySqlGrants.like("shop", "shop2")).isFalse();
    }

    @Test
    void tablesWithoutKeys() {
        Assessment a = failed(MySqlPreflight.source(PLAN, facts(v -> { }, ALL, Map.of(), List.of("audit_log", "tmp"), Map.of(), 0, false)), "keys");
        assertThat(a.finding()).contains("audit_log has no primary key and no unique index over NOT NULL columns")
                .contains("tmp has no primary key");
        assertThat(a.remedy()).contains("ADD PRIMARY KEY").contains("tables.exclude").contains("tables.keys");
    }

    private static MySqlServerFacts withIndexes(Map<String, List<MySqlKeys.Index>> uniques) {
        Map<String, Long> rows = new java.util.TreeMap<>();
        uniques.keySet().forEach(t -> rows.put(t, 10L));
        Map<String, String> v = new HashMap<>(Map.of("log_bin", "ON", "binlog_format", "ROW", "binlog_row_image", "FULL",
                "server_id", "1", "binlog_expire_logs_seconds", "604800", "read_only", "OFF", "gtid_binlog_pos", "0-1-5"));
        return new MySqlServerFacts(true, "10.11.6-MariaDB", v, ALL, rows, uniques, Map.of(), 0, true, false, Map.of());
    }

    private static Plan planWith(String tables) {
        return new PlanLoader(Map.of()).parse("p.yaml", """
                name: p
                source: {engine: mariadb, host: h1, port: 3306, user: u, database: shop}
                target: {engine: mariadb, host: h2, port: 3306, user: u, database: shop}
                """ + tables, Path.of("."));
    }

    @Test
    void aTableWithoutPrimaryKeyIsKeyedByItsFirstUniqueNotNullIndexAndPreflightSaysSo() {
        var f = withIndexes(Map.of(
                "codes", List.of(new MySqlKeys.Index("a_nullable", List.of("note"), false), new MySqlKeys.Index("by_code", List.of("region", "code"), true),
                        new MySqlKeys.Index("by_serial", List.of("serial"), true)),
                "orders", List.of(new MySqlKeys.Index("PRIMARY", List.of("id"), true))));
        Assessment a = MySqlPreflight.keys(Role.SOURCE, f, planWith("")).get(0);
        assertThat(a.severity()).isEqualTo(Assessment.Severity.OK);
        assertThat(a.finding()).contains("codes: unique index by_code (region, code)").doesNotContain("orders");

        // the plan names another unique index: that one carries the rows
        Assessment named = MySqlPreflight.keys(Role.SOURCE, f, planWith("tables: {keys: {codes: [serial]}}")).get(0);
        assertThat(named.finding()).contains("codes: unique index by_serial (serial)");

        // a nullable unique index is no key, neither is a column set no unique index has, nor a table the plan does not move
        Assessment nullable = failed(MySqlPreflight.keys(Role.SOURCE, f, planWith("tables: {keys: {codes: [note]}}")), "keys");
        assertThat(nullable.finding()).contains("tables.keys names (note) for codes, but no unique index over NOT NULL columns has exactly")
                .contains("usable: by_code (region, code); by_serial (serial)");
        Assessment other = failed(MySqlPreflight.keys(Role.SOURCE, f, planWith("tables: {keys: {orders: [note], nothere: [a]}}")), "keys");
        assertThat(other.finding()).contains("but its primary key (id) carries its rows").contains("tables.keys names nothere, which is not a table");
    }

    @Test
    void aTargetWhoseBinlogCannotFeedReverseReplicationIsAWarningUntilTheCutover() {
        Assessment ready = MySqlPreflight.reverseReadiness(Role.TARGET, facts(v -> { }, ALL, Map.of(), List.of(), Map.of(), 0, false), PLAN);
        assertThat(ready.severity()).isEqualTo(Assessment.Severity.OK);
        Assessment minimal = MySqlPreflight.reverseReadiness(Role.TARGET, facts(v -> v.put("binlog_row_image", "MINIMAL"), ALL, Map.of(),
                List.of(), Map.of(), 0, false), PLAN);
        assertThat(minimal.severity()).isEqualTo(Assessment.Severity.WARN);
        assertThat(minimal.finding()).contains("binlog_row_image=MINIMAL").contains("the cutover will be refused");
        assertThat(minimal.remedy()).contains("cutover.reverse: false");
        Assessment off = MySqlPreflight.reverseReadiness(Role.TARGET, facts(v -> v.put("log_bin", "OFF"), ALL, Map.of(), List.of(), Map.of(),
                0, false), planWith("cutover: {reverse: false}"));
        assertThat(off.severity()).as("no reverse replication wanted").isEqualTo(Assessment.Severity.OK);
    }

    @Test
    void aUniqueKeyWhoseNamesTheBinlogStreamCannotBeToldIsRefused() {
        var f = withIndexes(Map.of("odd;name", List.of(new MySqlKeys.Index("u", List.of("a"), true))));
        Assessment a = failed(MySqlPreflight.keys(Role.SOURCE, f, planWith("")), "keys");
        assertThat(a.finding()).contains("odd;name");
        assertThat(a.remedy()).contains("primary key");
    }

    @Test
    void mariadbOnlyTypesIntoMysql() {
        Assessment a = failed(MySqlPreflight.source(PLAN, facts(v -> { }, ALL, Map.of(), List.of(), Map.of("hosts", List.of("addr inet6")), 0, false)), "types");
        assertThat(a.finding()).contains("hosts(addr inet6)");
        assertThat(a.remedy()).contains("VARBINARY(16)");
    }

    @Test
    void mariadbTypesTheBinlogStreamCannotCarryAreRefusedIntoMariadbTooButOnlyForPlanTables() {
        Plan mariadb = new PlanLoader(Map.of()).parse("m.yaml", """
                name: m
                source: {engine: mariadb, host: h, port: 1, user: u, password: p, database: shop}
                target: {engine: mariadb, host: h, port: 2, user: u, password: p, database: shop}
                tables: {exclude: [legacy]}
                """, Path.of("."));
        Assessment a = failed(MySqlPreflight.source(mariadb, facts(v -> { }, ALL, Map.of(), List.of(),
                Map.of("hosts", List.of("addr inet6", "id uuid"), "legacy", List.of("ip inet4")), 0, false)), "types");
        assertThat(a.finding()).contains("hosts(addr inet6, id uuid)").doesNotContain("legacy");
        assertThat(a.remedy()).contains("tables.exclude").contains("INET6 -> VARBINARY(16)");
        assertThat(MySqlPreflight.source(mariadb, facts(v -> { }, ALL, Map.of(), List.of(), Map.of("legacy", List.of("ip inet4")), 0, false)))
                .filteredOn(x -> x.check().equals("types")).singleElement().extracting(Assessment::severity).isEqualTo(Assessment.Severity.OK);
    }

    @Test
    void aTargetWithAnotherTableNameCaseOrASmallerPacketIsRefusedBesideTheSource() {
        MySqlServerFacts source = facts(v -> {
            v.put("lower_case_table_names", "0");
            v.put("max_allowed_packet", "67108864");
        }, ALL, Map.of(), List.of(), Map.of(), 0, false);
        MySqlServerFacts same = facts(v -> {
            v.put("lower_case_table_names", "0");
            v.put("max_allowed_packet", "1073741824");
        }, ALL, Map.of(), List.of(), Map.of(), 0, false);
        assertThat(MySqlPreflight.target(PLAN, same, source)).filteredOn(a -> a.check().equals("table name case") || a.check().equals("packet size"))
                .hasSize(2).allMatch(a -> a.severity() == Assessment.Severity.OK);
        MySqlServerFacts other = facts(v -> {
            v.put("lower_case_table_names", "1");
            v.put("max_allowed_packet", "16777216");
        }, ALL, Map.of(), List.of(), Map.of(), 0, false);
        Assessment names = failed(MySqlPreflight.target(PLAN, other, source), "table name case");
        assertThat(names.finding()).contains("0 on the source, 1 on the target");
        assertThat(names.remedy()).contains("initialised");
        Assessment packet = failed(MySqlPreflight.target(PLAN, other, source), "packet size");
        assertThat(packet.finding()).contains("16777216 on the target, 67108864 on the source");
        assertThat(packet.remedy()).contains("SET GLOBAL max_allowed_packet = 67108864");
    }

    @Test
    void aSmallerTargetPacketIsJudgedByTheLargestRowsNotBySettingsAlone() {
        long source = 1L << 30;
        long target = 16L << 20;
        Assessment fits = MySqlPreflight.packetSize(source, target, new MySqlRowSizes(Map.of("docs", 3_000_000L), List.of()));
        assertThat(fits.severity()).isEqualTo(Assessment.Severity.OK);
        assertThat(fits.finding()).contains("the largest, in docs: 3000000 bytes");
        assertThat(MySqlPreflight.packetSize(source, target, new MySqlRowSizes(Map.of(), List.of())).finding())
                .contains("no table's columns can reach it");
        Assessment over = MySqlPreflight.packetSize(source, target,
                new MySqlRowSizes(Map.of("docs", 3_000_000L, "blobs", 20_000_000L), List.of()));
        assertThat(over.severity()).isEqualTo(Assessment.Severity.FAIL);
        assertThat(over.finding()).contains("blobs (largest row 20000000 bytes)").doesNotContain("docs (");
        assertThat(over.remedy()).contains("SET GLOBAL max_allowed_packet = " + source);
        Assessment unread = MySqlPreflight.packetSize(source, target, new MySqlRowSizes(Map.of(), List.of("events")));
        assertThat(unread.severity()).isEqualTo(Assessment.Severity.WARN);
        assertThat(unread.finding()).contains("were not read: events");
        assertThat(MySqlPreflight.packetSize(source, source * 2, null).severity()).isEqualTo(Assessment.Severity.OK);
    }

    @Test
    void readOnlyTarget() {
        Assessment a = failed(MySqlPreflight.target(PLAN, facts(v -> v.put("read_only", "ON"), ALL, Map.of(), List.of(), Map.of(), 0, false)), "writable");
        assertThat(a.remedy()).contains("read_only = OFF");
    }

    @Test
    void existingTargetTablesThatDifferAreListed() {
        MySqlServerFacts source = new MySqlServerFacts(true, "10.11", Map.of(), ALL, Map.of(), Map.of(), Map.of(), 0, true, false,
                Map.of("orders", new java.util.LinkedHashMap<>(Map.of("id", "int(11)", "amount", "decimal(12,2)"))));
        MySqlServerFacts target = new MySqlServerFacts(true, "10.11", Map.of("read_only", "OFF"), ALL, Map.of(), Map.of(), Map.of(), 0, true,
                false, Map.of("orders", new java.util.LinkedHashMap<>(Map.of("id", "bigint(20)", "note", "text"))));
        Assessment a = failed(MySqlPreflight.target(PLAN, target, source), "table definitions");
        assertThat(a.finding()).contains("orders.id is bigint(20) on the target, int(11) on the source")
                .contains("orders.amount is missing on the target").contains("orders.note exists only on the target");
        assertThat(a.remedy()).contains("drop those target tables");
    }

    @Test
    void targetTablesWithRows() {
        Assessment a = failed(MySqlPreflight.target(PLAN, facts(v -> { }, ALL, Map.of("orders", 1200L, "empty", 0L), List.of(), Map.of(), 0, false)), "empty target");
        assertThat(a.finding()).contains("orders (~1200 rows)").doesNotContain("empty (");
        assertThat(a.remedy()).contains("TRUNCATE");
        assertThat(MySqlPreflight.target(PLAN, facts(v -> { }, ALL, Map.of("orders", 1200L), List.of(), Map.of(), 0, true)))
                .allMatch(x -> x.severity() == Assessment.Severity.OK);
    }
}
