package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.preflight.PlanCheckReport;
import io.migrator.core.preflight.PlanChecker;
import io.migrator.core.spi.Assessment;
import io.migrator.core.spi.EngineConnectors;
import io.migrator.core.spi.Role;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * PostgreSQL preflight against the sandbox pair: a clean database passes, and every problem that can be made on a
 * running server is found with its remedy (tables without a usable key, a user without REPLICATION or SELECT, an
 * extension the target lacks, rows already on the target, a read-only target).
 */
@ExtendWith(SandboxExtension.class)
class PostgresPreflightIT {
    private SandboxEndpoint source;
    private SandboxEndpoint target;
    private final String db = "pf_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
    private final String weakUser = db + "_reader";

    private void sql(SandboxEndpoint e, String database, String... statements) throws Exception {
        try (Connection c = DriverManager.getConnection(e.jdbcUrl(database), e.user(), e.password()); Statement st = c.createStatement()) {
            for (String s : statements) {
                st.execute(s);
            }
        }
    }

    @AfterEach
    void drop() throws Exception {
        for (SandboxEndpoint e : List.of(source, target)) {
            sql(e, "postgres", "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)", "DROP ROLE IF EXISTS " + weakUser);
        }
    }

    private PlanCheckReport check(String user, String password) {
        return check(user, password, target.user(), target.password(), "");
    }

    private PlanCheckReport check(String user, String password, String targetUser, String targetPassword, String extra) {
        String yaml = """
                name: pf
                source: {engine: postgresql, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s}
                target: {engine: postgresql, host: %s, port: %d, user: %s, password: "${env:PW2}", database: %s}
                %s
                """.formatted(source.host(), source.port(), user, db, target.host(), target.port(), targetUser, db, extra);
        Plan plan = new PlanLoader(Map.of("PW", password, "PW2", targetPassword)).parse("pf.yaml", yaml, Path.of("."));
        return new PlanChecker(EngineConnectors.discover(), Duration.ofSeconds(10)).check(plan);
    }

    private static Assessment find(PlanCheckReport report, Role role, String check, Assessment.Severity severity) {
        return report.assessments().stream().filter(a -> a.role() == role && a.check().equals(check) && a.severity() == severity)
                .findFirst().orElseThrow(() -> new AssertionError("no " + severity + " '" + check + "' for " + role + " in " + report.assessments()));
    }

    @Test
    void aSqlAsciiSourceIsRefusedBeforeItsBytesAreReadAsUtf8(SandboxServers servers) throws Exception {
        source = servers.postgresSource();
        target = servers.postgresTarget();
        sql(source, "postgres", "CREATE DATABASE " + db + " ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
        sql(target, "postgres", "CREATE DATABASE " + db);
        sql(source, db, "CREATE TABLE notes (id int PRIMARY KEY, body text)", "INSERT INTO notes VALUES (1, convert_from('\\xe9'::bytea, 'SQL_ASCII'))");
        PlanCheckReport report = check(source.user(), source.password());
        Assessment encoding = find(report, Role.SOURCE, "encoding", Assessment.Severity.FAIL);
        assertThat(encoding.finding()).contains("SQL_ASCII");
        assertThat(encoding.remedy()).contains("WITH ENCODING 'UTF8'");

        sql(source, "postgres", "DROP DATABASE " + db + " WITH (FORCE)", "CREATE DATABASE " + db); // UTF8, the default here
        sql(source, db, "CREATE TABLE notes (id int PRIMARY KEY, body text)");
        assertThat(check(source.user(), source.password()).assessments()).noneMatch(a -> a.check().equals("encoding"));
    }

    @Test
    void aCleanDatabasePassesAndEveryInducedProblemIsNamedWithItsRemedy(SandboxServers servers) throws Exception {
        source = servers.postgresSource();
        target = servers.postgresTarget();
        for (SandboxEndpoint e : List.of(source, target)) {
            sql(e, "postgres", "CREATE DATABASE " + db);
        }
        sql(source, db, "CREATE TABLE accounts (id bigint PRIMARY KEY, owner text)", "CREATE SCHEMA \"odd schema\"",
                "CREATE TABLE \"odd schema\".\"line items\" (order_id text, line int, PRIMARY KEY (order_id, line))");
        PlanCheckReport clean = check(source.user(), source.password());
        assertThat(clean.assessments()).as(clean.assessments().toString())
                .noneMatch(a -> a.severity() == Assessment.Severity.FAIL);
        assertThat(find(clean, Role.SOURCE, "wal_level", Assessment.Severity.OK).finding()).contains("logical");
        assertThat(find(clean, Role.SOURCE, "keys", Assessment.Severity.OK)).isNotNull();

        // keys: no key at all; a unique key but REPLICA IDENTITY DEFAULT (sends nothing); REPLICA IDENTITY NOTHING; FULL (a warning)
        sql(source, db, "CREATE TABLE loose (a int, b text)", "CREATE TABLE uniq (a int NOT NULL UNIQUE, b text)",
                "CREATE TABLE quiet (id int PRIMARY KEY)", "ALTER TABLE quiet REPLICA IDENTITY NOTHING",
                "CREATE TABLE wide (a int, b text)", "ALTER TABLE wide REPLICA IDENTITY FULL",
                "CREATE EXTENSION citext", "CREATE TABLE tags (id int PRIMARY KEY, name citext)",
                "CREATE EXTENSION pg_trgm", "CREATE INDEX accounts_owner_trgm ON accounts USING gin (owner gin_trgm_ops)",
                "CREATE EXTENSION pgcrypto", // no plan table uses it
                "CREATE TABLE by_email (id int PRIMARY KEY, email text NOT NULL UNIQUE)",
                "ALTER TABLE by_email REPLICA IDENTITY USING INDEX by_email_email_key",
                "CREATE TABLE by_both (id int PRIMARY KEY, email text NOT NULL, UNIQUE (email, id))",
                "ALTER TABLE by_both REPLICA IDENTITY USING INDEX by_both_email_id_key",
                "CREATE TABLE flags (bits bit varying(8) PRIMARY KEY, note text)",
                "CREATE SCHEMA unrelated", "CREATE TYPE unrelated.mood AS ENUM ('sad', 'ok')",
                "CREATE DOMAIN unrelated.good_mood AS unrelated.mood CHECK (VALUE <> 'sad')");
        sql(target, db, "CREATE TABLE accounts (id bigint PRIMARY KEY, owner text)", "INSERT INTO accounts VALUES (1, 'early')",
                "CREATE TABLE by_both (id bigint PRIMARY KEY, email text NOT NULL, note text)");
        PlanCheckReport bad = check(source.user(), source.password());
        Assessment keys = find(bad, Role.SOURCE, "keys", Assessment.Severity.FAIL);
        assertThat(keys.finding()).contains("public.loose (no primary key and no unique index").contains("public.uniq (no primary key, so REPLICA IDENTITY DEFAULT")
                .contains("public.quiet (REPLICA IDENTITY NOTHING").doesNotContain("wide").doesNotContain("accounts")
                .contains("public.by_email (its REPLICA IDENTITY index lacks primary key columns").doesNotContain("by_both");
        assertThat(keys.remedy()).contains("ADD PRIMARY KEY").contains("tables.exclude");
        assertThat(bad.assessments().stream().filter(a -> a.role() == Role.SOURCE && a.check().equals("keys")
                && a.severity() == Assessment.Severity.FAIL && a.finding().contains("public.wide")).findFirst())
                .as("REPLICA IDENTITY FULL without a primary key is refused").get()
                .satisfies(a -> assertThat(a.finding()).contains("no primary key on public.wide"));
        Assessment definitions = find(bad, Role.TARGET, "table definitions", Assessment.Severity.FAIL);
        assertThat(definitions.finding()).contains("public.by_both: column id is bigint on the target, integer on the source")
                .contains("public.by_both: column note exists only on the target").doesNotContain("accounts");
        assertThat(definitions.remedy()).contains("drop those target tables");
        assertThat(bad.assessments()).as("a domain over an enum and a bit varying key stream as text: nothing to refuse")
                .noneMatch(a -> a.check().equals("types") || a.finding().contains("good_mood") || a.finding().contains("public.flags"));
        Assessment ext = find(bad, Role.TARGET, "extensions", Assessment.Severity.FAIL);
        assertThat(ext.finding()).contains("citext").contains("pg_trgm").doesNotContain("pgcrypto");
        assertThat(find(bad, Role.TARGET, "extensions", Assessment.Severity.WARN).finding()).contains("pgcrypto")
                .contains("do not use");
        assertThat(ext.remedy()).contains("CREATE EXTENSION \"citext\"");
        Assessment filled = find(bad, Role.TARGET, "empty target", Assessment.Severity.FAIL);
        assertThat(filled.finding()).contains("public.accounts");
        assertThat(filled.remedy()).contains("TRUNCATE");

        // a user that may log in and nothing else
        sql(source, "postgres", "CREATE ROLE " + weakUser + " LOGIN PASSWORD 'weak-pass'");
        PlanCheckReport weak = check(weakUser, "weak-pass");
        Assessment replication = find(weak, Role.SOURCE, "replication privilege", Assessment.Severity.FAIL);
        assertThat(replication.remedy()).contains("ALTER ROLE \"" + weakUser + "\" WITH REPLICATION").contains("rds_replication");
        Assessment read = find(weak, Role.SOURCE, "read privilege", Assessment.Severity.FAIL);
        assertThat(read.finding()).contains("public.accounts").contains("odd schema.line items");
        assertThat(read.remedy()).contains("GRANT SELECT ON ").contains("\"odd schema\".\"line items\"");
        assertThat(find(weak, Role.SOURCE, "publication", Assessment.Severity.WARN).remedy()).contains("CREATE PUBLICATION");
        assertThat(weak.assessments().toString()).doesNotContain("weak-pass");

        // a read-only target database
        sql(target, "postgres", "ALTER DATABASE " + db + " SET default_transaction_read_only = on");
        PlanCheckReport readOnly = check(source.user(), source.password());
        assertThat(find(readOnly, Role.TARGET, "writable", Assessment.Severity.FAIL).remedy()).contains("default_transaction_read_only = off");
    }

    @Test
    void aFilterThatSelectsNoTableAndATargetUserWithoutCreateAreNamed(SandboxServers servers) throws Exception {
        source = servers.postgresSource();
        target = servers.postgresTarget();
        for (var e : List.of(source, target)) {
            sql(e, "postgres", "CREATE DATABASE " + db);
        }
        sql(source, db, "CREATE TABLE accounts (id bigint PRIMARY KEY, owner text)");
        Assessment none = find(check(source.user(), source.password(), target.user(), target.password(), "tables: {include: [\"nosuch.*\"]}"),
                Role.SOURCE, "tables", Assessment.Severity.FAIL);
        assertThat(none.finding()).contains("selects no table in " + db);
        assertThat(none.remedy()).contains("tables.include");

        sql(target, "postgres", "CREATE ROLE " + weakUser + " LOGIN PASSWORD 'weak-pass'"); // CONNECT through PUBLIC, no CREATE
        Assessment create = find(check(source.user(), source.password(), weakUser, "weak-pass", ""), Role.TARGET, "create privilege",
                Assessment.Severity.FAIL);
        assertThat(create.finding()).contains(weakUser + " cannot CREATE in database " + db);
        assertThat(create.remedy()).isEqualTo("GRANT CREATE ON DATABASE \"" + db + "\" TO \"" + weakUser + "\"");
    }
}
