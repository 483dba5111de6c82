package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * `migrator run` goes through the same preflight as `migrator plan check` before it creates anything: a plan that fails
 * it exits 4 naming every problem, and neither server is changed. On PostgreSQL that matters beyond the migration: a table
 * without a replica identity added to a publication makes the source refuse the application's UPDATE and DELETE.
 */
@ExtendWith(SandboxExtension.class)
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a run that passed the gate would stream on
class RunPreflightIT {
    private final String db = "rp_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);

    @Test
    void postgresqlRunRefusesAKeylessTableAndCreatesNothing(SandboxServers servers, @TempDir Path dir) throws Exception {
        SandboxEndpoint source = servers.postgresSource();
        SandboxEndpoint target = servers.postgresTarget();
        try {
            for (SandboxEndpoint e : new SandboxEndpoint[] {source, target}) {
                sql(e, e.jdbcUrl("postgres"), "CREATE DATABASE " + db);
            }
            sql(source, source.jdbcUrl(db), "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric)", "INSERT INTO orders VALUES (1, 10)",
                    "CREATE TABLE audit_log (at timestamptz, what text)", "INSERT INTO audit_log VALUES (now(), 'first')");
            Path plan = plan(dir, "postgresql", source, target);

            CliRun run = CliRun.of("run", plan.toString());

            assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(4);
            assertThat(run.err()).contains("preflight assessment(s) failed").contains("source keys")
                    .contains("public.audit_log (no primary key and no unique index").contains("ADD PRIMARY KEY").contains("REPLICA IDENTITY USING INDEX").contains("migrator plan check")
                    .doesNotContain(source.password());
            String slot = "migrator_" + db + "_pg";
            assertThat(count(source, source.jdbcUrl(db), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '" + slot + "%'"))
                    .as("no replication slot").isZero();
            assertThat(count(source, source.jdbcUrl(db), "SELECT count(*) FROM pg_publication")).as("no publication").isZero();
            assertThat(count(target, target.jdbcUrl(db), "SELECT count(*) FROM pg_namespace WHERE nspname = 'migrator'"))
                    .as("no bookkeeping schema on the target").isZero();
            assertThat(count(target, target.jdbcUrl(db), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
                    .as("no table on the target").isZero();
            // the application keeps working on the keyless table
            sql(source, source.jdbcUrl(db), "UPDATE audit_log SET what = 'changed'", "DELETE FROM audit_log");
            assertThat(count(source, source.jdbcUrl(db), "SELECT count(*) FROM audit_log")).isZero();
        } finally {
            for (SandboxEndpoint e : new SandboxEndpoint[] {source, target}) {
                sql(e, e.jdbcUrl("postgres"), "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            }
        }
    }

    @Test
    void mariadbRunRefusesAKeylessTableAndCreatesNothing(SandboxServers servers, @TempDir Path dir) throws Exception {
        SandboxEndpoint source = servers.mariadbSource();
        SandboxEndpoint target = servers.mariadbTarget();
        try {
            sql(source, source.jdbcUrl(), "CREATE DATABASE " + db);
            sql(source, source.jdbcUrl(db), "CREATE TABLE orders (id bigint PRIMARY KEY, total decimal(10,2))",
                    "CREATE TABLE audit_log (at datetime, what text)");
            Path plan = plan(dir, "mariadb", source, target);

            CliRun run = CliRun.of("run", plan.toString());

            assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(4);
            assertThat(run.err()).contains("preflight assessment(s) failed").contains("source keys").contains("audit_log")
                    .doesNotContain(source.password());
            assertThat(count(target, target.jdbcUrl(), "SELECT count(*) FROM information_schema.schemata WHERE schema_name = '" + db + "'"))
                    .as("no database created on the target").isZero();
            // a MySQL/MariaDB target database that does not exist yet is not a failure: the worker creates it
            CliRun check = CliRun.of("plan", "check", plan.toString(), "-o", "json");
            assertThat(check.json().get("assessments")).anySatisfy(a -> {
                assertThat(a.get("role").asText()).isEqualTo("TARGET");
                assertThat(a.get("check").asText()).isEqualTo("database exists");
                assertThat(a.get("severity").asText()).isEqualTo("WARN");
                assertThat(a.get("finding").asText()).contains("`migrator run` creates it");
            });
        } finally {
            sql(source, source.jdbcUrl(), "DROP DATABASE IF EXISTS " + db);
            sql(target, target.jdbcUrl(), "DROP DATABASE IF EXISTS " + db);
        }
    }

    private Path plan(Path dir, String engine, SandboxEndpoint source, SandboxEndpoint target) throws Exception {
        Path password = dir.resolve("password");
        Files.writeString(password, source.password());
        Path plan = dir.resolve("plan.yaml");
        Files.writeString(plan, """
                name: %s-%s
                source: {engine: %s, host: %s, port: %d, user: %s, password: "${file:%s}", database: %s}
                target: {engine: %s, host: %s, port: %d, user: %s, password: "${file:%s}", database: %s}
                """.formatted(db, engine.substring(0, 2), engine, source.host(), source.port(), source.user(), password, db,
                engine, target.host(), target.port(), target.user(), password, db));
        return plan;
    }

    private static void sql(SandboxEndpoint e, String url, String... statements) throws SQLException {
        try (Connection c = DriverManager.getConnection(url, e.user(), e.password()); Statement st = c.createStatement()) {
            for (String s : statements) {
                st.execute(s);
            }
        }
    }

    private static long count(SandboxEndpoint e, String url, String query) throws SQLException {
        try (Connection c = DriverManager.getConnection(url, e.user(), e.password()); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery(query)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
