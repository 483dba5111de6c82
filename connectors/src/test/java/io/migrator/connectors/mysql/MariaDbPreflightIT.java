package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.preflight.PlanCheckReport;
import io.migrator.core.preflight.PlanChecker;
import io.migrator.core.spi.Assessment;
import io.migrator.core.spi.EngineConnectors;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Preflight against the real servers: a user without grants, a keyless table, a target that already holds rows. */
@ExtendWith(SandboxExtension.class)
class MariaDbPreflightIT {
    private MariaDbFixture fixture;
    private String user;

    @AfterEach
    void cleanUp() throws Exception {
        if (fixture != null) {
            if (user != null) {
                try (Connection c = MariaDbFixture.connect(fixture.source); Statement st = c.createStatement()) {
                    st.execute("DROP USER IF EXISTS '" + user + "'@'%'");
                }
            }
            fixture.drop();
        }
    }

    private List<Assessment> check(Plan plan) {
        PlanCheckReport report = new PlanChecker(EngineConnectors.discover(), Duration.ofSeconds(5)).check(plan);
        assertThat(report.allReachable()).as(report.endpoints().toString()).isTrue();
        return report.assessments();
    }

    private static Assessment failed(List<Assessment> assessments, String check) {
        return assessments.stream().filter(a -> a.check().equals(check) && a.severity() == Assessment.Severity.FAIL).findFirst()
                .orElseThrow(() -> new AssertionError("no failed '" + check + "' in " + assessments));
    }

    @Test
    void findsMissingGrantsKeylessTablesAndABusyTarget(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "pre");
        user = "limited_" + fixture.database.substring(fixture.database.length() - 8);
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE with_key (id INT PRIMARY KEY)");
            st.execute("CREATE TABLE no_key (a INT, b INT)");
            st.execute("CREATE TABLE nullable_unique (a INT, UNIQUE KEY (a))");
            st.execute("CREATE USER '" + user + "'@'%' IDENTIFIED BY 'limited-pw'");
            st.execute("GRANT SELECT ON `" + fixture.database + "`.* TO '" + user + "'@'%'");
        }
        try (Connection c = MariaDbFixture.connect(fixture.target); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE `" + fixture.database + "`");
            st.execute("CREATE TABLE `" + fixture.database + "`.with_key (id INT PRIMARY KEY)");
            st.execute("INSERT INTO `" + fixture.database + "`.with_key VALUES (1), (2)");
            st.execute("ANALYZE TABLE `" + fixture.database + "`.with_key");
        }
        try (Connection c = MariaDbFixture.connect(fixture.target); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE `" + fixture.database + "`.no_key (a INT, b INT)");
            st.execute("CREATE TRIGGER `" + fixture.database + "`.count_rows AFTER INSERT ON `" + fixture.database + "`.no_key "
                    + "FOR EACH ROW SET @rows = COALESCE(@rows, 0) + 1");
        }
        List<Assessment> asAdmin = check(fixture.plan(""));
        Assessment triggers = failed(asAdmin, "target triggers");
        assertThat(triggers.finding()).contains("no_key.count_rows");
        assertThat(triggers.remedy()).contains("DROP TRIGGER");
        Assessment keys = failed(asAdmin, "keys");
        assertThat(keys.finding()).contains("no_key").contains("nullable_unique").doesNotContain("with_key");
        Assessment busy = failed(asAdmin, "empty target");
        assertThat(busy.finding()).contains("with_key");
        assertThat(asAdmin).filteredOn(a -> a.check().equals("reverse replication")).singleElement()
                .satisfies(a -> assertThat(a.severity()).as("the sandbox target writes a ROW, FULL binlog").isEqualTo(Assessment.Severity.OK));
        assertThat(busy.remedy()).contains("TRUNCATE");

        String yaml = """
                name: limited
                source: {engine: mariadb, host: %s, port: %d, user: %s, password: limited-pw, database: %s}
                target: {engine: mariadb, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s}
                tables: {exclude: [no_key, nullable_unique]}
                """.formatted(fixture.source.host(), fixture.source.port(), user, fixture.database, fixture.target.host(),
                fixture.target.port(), fixture.target.user(), fixture.database);
        Plan limited = new PlanLoader(Map.of("PW", fixture.target.password())).parse("l.yaml", yaml, Path.of("."));
        List<Assessment> asLimited = check(limited);
        Assessment grants = failed(asLimited, "privileges");
        assertThat(grants.role().id()).isEqualTo("source");
        assertThat(grants.remedy()).contains("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `" + user + "`@`%`")
                .doesNotContain("GRANT SELECT");
        assertThat(asLimited).filteredOn(a -> a.check().equals("keys")).allMatch(a -> a.severity() == Assessment.Severity.OK);
    }

    @Test
    void privilegesThroughNestedDefaultRolesAndADatabasePatternPass(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "prerole");
        String suffix = fixture.database.substring(fixture.database.length() - 8);
        user = "viarole_" + suffix;
        String outer = "r_outer_" + suffix;
        String inner = "r_inner_" + suffix;
        // the database name's prefix, as a LIKE pattern with its underscore escaped: `prerole\_%`
        String pattern = fixture.database.substring(0, fixture.database.indexOf('_')) + "\\_%";
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE with_key (id INT PRIMARY KEY)");
            st.execute("CREATE ROLE " + inner);
            st.execute("CREATE ROLE " + outer);
            st.execute("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO " + inner);
            st.execute("GRANT " + inner + " TO " + outer);
            st.execute("CREATE USER '" + user + "'@'%' IDENTIFIED BY 'role-pw'");
            st.execute("GRANT SELECT ON `" + pattern + "`.* TO '" + user + "'@'%'");
            st.execute("GRANT " + outer + " TO '" + user + "'@'%'");
            st.execute("SET DEFAULT ROLE " + outer + " FOR '" + user + "'@'%'");
        }
        try {
            String yaml = """
                    name: viarole
                    source: {engine: mariadb, host: %s, port: %d, user: %s, password: role-pw, database: %s}
                    target: {engine: mariadb, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s}
                    """.formatted(fixture.source.host(), fixture.source.port(), user, fixture.database, fixture.target.host(),
                    fixture.target.port(), fixture.target.user(), fixture.database);
            Plan plan = new PlanLoader(Map.of("PW", fixture.target.password())).parse("r.yaml", yaml, Path.of("."));
            assertThat(check(plan)).filteredOn(a -> a.check().equals("privileges") && a.role().id().equals("source")).singleElement()
                    .satisfies(a -> assertThat(a.severity()).as(a.finding() + " " + a.remedy()).isEqualTo(Assessment.Severity.OK));
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("REVOKE " + outer + " FROM '" + user + "'@'%'"); // the replication privileges went with the role
            }
            assertThat(failed(check(plan), "privileges").remedy()).isEqualTo("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `" + user + "`@`%`");
        } finally {
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("DROP ROLE IF EXISTS " + outer);
                st.execute("DROP ROLE IF EXISTS " + inner);
            }
        }
    }

    @Test
    void aTargetPacketSmallerThanTheSourcesPassesUntilARowDoesNotFitIt(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "prepacket");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE docs (id INT PRIMARY KEY, body LONGTEXT)");
            st.execute("CREATE TABLE small (id INT PRIMARY KEY, v VARCHAR(20))");
            st.execute("INSERT INTO docs VALUES (1, REPEAT('a', 100000)), (2, REPEAT('b', 300000))");
        }
        long before;
        try (Connection c = MariaDbFixture.connect(fixture.target); Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT @@GLOBAL.max_allowed_packet")) {
            rs.next();
            before = rs.getLong(1);
        }
        try {
            try (Connection c = MariaDbFixture.connect(fixture.target); Statement st = c.createStatement()) {
                st.execute("SET GLOBAL max_allowed_packet = 1048576"); // 1 MB, the sandbox source allows 256 MB
            }
            Assessment fits = check(fixture.plan("")).stream().filter(a -> a.check().equals("packet size")).findFirst().orElseThrow();
            assertThat(fits.severity()).as(fits.finding()).isEqualTo(Assessment.Severity.OK);
            assertThat(fits.finding()).contains("the largest, in docs: 300001 bytes").doesNotContain("small");
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("UPDATE docs SET body = REPEAT('c', 2000000) WHERE id = 2");
            }
            Assessment over = failed(check(fixture.plan("")), "packet size");
            assertThat(over.finding()).contains("docs (largest row 2000001 bytes)");
            assertThat(over.remedy()).contains("SET GLOBAL max_allowed_packet");
        } finally {
            try (Connection c = MariaDbFixture.connect(fixture.target); Statement st = c.createStatement()) {
                st.execute("SET GLOBAL max_allowed_packet = " + before);
            }
        }
    }

    @Test
    void columnTypesTheBinlogStreamCannotCarryAreRefusedByName(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "pretypes");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE hosts (id INT PRIMARY KEY, addr INET6, v4 INET4, token UUID)");
            st.execute("CREATE TABLE plain (id INT PRIMARY KEY, v VARCHAR(10))");
        }
        Assessment types = failed(check(fixture.plan("")), "types");
        assertThat(types.finding()).contains("hosts(addr inet6, v4 inet4, token uuid)").doesNotContain("plain");
        assertThat(types.remedy()).contains("tables.exclude");
        assertThat(check(fixture.plan("tables: {exclude: [hosts]}"))).filteredOn(a -> a.check().equals("types")).singleElement()
                .extracting(Assessment::severity).isEqualTo(Assessment.Severity.OK);
    }
}
