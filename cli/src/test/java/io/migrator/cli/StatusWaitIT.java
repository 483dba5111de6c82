package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.io.File;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code status}, {@code wait}, {@code pause} and {@code resume} as a runbook uses them, against the real worker jar:
 * exit codes and the CLI.md JSON fields, before the worker runs, while it runs, and after it failed.
 */
@ExtendWith(SandboxExtension.class)
class StatusWaitIT {
    private static final Path JAR = Path.of("target", "migrator.jar").toAbsolutePath();

    @Test
    void runbookCommandsFollowTheWorker(SandboxServers servers) throws Exception {
        SandboxEndpoint source = servers.mariadbSource();
        SandboxEndpoint target = servers.mariadbTarget();
        String db = "wait_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        try (Connection c = DriverManager.getConnection(source.jdbcUrl(""), source.user(), source.password()); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + db);
            st.execute("USE " + db);
            st.execute("CREATE TABLE " + db + ".items (id INT PRIMARY KEY, v VARCHAR(20), extra INT)");
            st.execute("INSERT INTO " + db + ".items SELECT seq, CONCAT('v', seq), seq FROM seq_1_to_4321");
        }
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Path secret = Files.createTempFile(Path.of("target"), "wait-pw-", ".txt").toAbsolutePath();
        Files.writeString(secret, source.password());
        Path plan = Files.createTempFile(Path.of("target"), "wait-", ".yaml");
        Files.writeString(plan, """
                name: %s
                source: {engine: mariadb, host: %s, port: %d, user: %s, password: "${file:%s}", database: %s}
                target: {engine: mariadb, host: %s, port: %d, user: %s, password: "${file:%s}", database: %s}
                control: {listen: "127.0.0.1:%d"}
                validation: {every: 1m}
                cutover: {maxLag: 5s}
                """.formatted(db.replace('_', '-'), source.host(), source.port(), source.user(), secret, db, target.host(), target.port(),
                target.user(), secret, db, port));
        String p = plan.toString();
        Process worker = null;
        try {
            // before any run: the durable state says nothing happened; waiting times out with exit 4
            CliRun before = CliRun.of("status", p, "-o", "json");
            assertThat(before.exit()).as(before.err()).isZero();
            assertThat(before.json().at("/worker/running").asBoolean()).isFalse();
            assertThat(before.json().get("phases")).isEmpty();
            CliRun timedOut = CliRun.of("wait", p, "--for", "STREAMING", "--timeout", "1s", "-o", "json");
            assertThat(timedOut.exit()).isEqualTo(4);
            assertThat(timedOut.json().at("/error/code").asText()).isEqualTo("TIMED_OUT");
            assertThat(CliRun.of("pause", p).exit()).as("pause needs a running worker: cannot connect").isEqualTo(6);
            assertThat(CliRun.of("wait", p, "--for", "lag<soon").exit()).as("a bad condition is a usage error").isEqualTo(2);

            ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                    "-jar", JAR.toString(), "run", p).redirectErrorStream(true).redirectOutput(new File("target/status-wait-worker.log"));
            builder.environment().put("MIGRATOR_STATE_DIR", System.getProperty("migrator.stateDir"));
            worker = builder.start();

            CliRun streaming = CliRun.of("wait", p, "--for", "STREAMING", "--timeout", "120s", "-o", "json");
            assertThat(streaming.exit()).as(streaming.out() + streaming.err()).isZero();
            assertThat(streaming.json().get("ok").asBoolean()).isTrue();
            assertThat(streaming.json().at("/status/phase").asText()).isEqualTo("STREAMING");
            assertThat(CliRun.of("wait", p, "--for", "lag<2s", "--timeout", "60s").exit()).isZero();
            // wait --for validated takes a validation finishing after the wait began: here the one `validate` asks for
            java.util.concurrent.CompletableFuture<CliRun> waiting = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> CliRun.of("wait", p, "--for", "validated", "--timeout", "90s", "-o", "json"));
            Thread.sleep(500);
            assertThat(CliRun.of("validate", p).exit()).isZero();
            CliRun validated = waiting.get(120, TimeUnit.SECONDS);
            assertThat(validated.exit()).as(validated.out() + validated.err()).isZero();
            assertThat(validated.json().at("/status/validation/state").asText()).isEqualTo("passed");
            assertThat(validated.json().at("/status/validation/lastRunAt").asText()).isNotBlank();

            JsonNode status = CliRun.of("status", p, "-o", "json").json();
            assertThat(status.get("name").asText()).isEqualTo(db.replace('_', '-'));
            assertThat(status.get("phase").asText()).isEqualTo("STREAMING");
            assertThat(status.at("/lag/seconds").isNumber()).isTrue();
            assertThat(status.at("/lag/seconds").asDouble()).isLessThan(2.0);
            assertThat(status.at("/lag/events").isNumber()).isTrue();
            assertThat(status.at("/snapshot/tablesDone").asInt()).isEqualTo(1);
            assertThat(status.at("/snapshot/tablesTotal").asInt()).isEqualTo(1);
            assertThat(status.at("/snapshot/rowsCopied").asLong()).isEqualTo(4321);
            assertThat(status.at("/applied/events").isNumber()).isTrue();
            assertThat(status.at("/applied/position").asText()).contains("binlog");
            assertThat(status.at("/validation/state").asText()).isEqualTo("passed");
            assertThat(status.at("/validation/mismatches").asInt()).isZero();
            assertThat(status.get("cutoverReady").asBoolean()).isTrue();
            assertThat(status.at("/worker/running").asBoolean()).isTrue();
            assertThat(status.toString()).doesNotContain(source.password());
            CliRun text = CliRun.of("status", p);
            assertThat(text.out()).contains("STREAMING").contains("100%").contains("4321/4321 rows");

            // validate through the worker: parity, then a row deleted behind its back is found, repaired, and gone
            CliRun parity = CliRun.of("validate", p, "-o", "json");
            assertThat(parity.exit()).as(parity.out() + parity.err()).isZero();
            assertThat(parity.json().get("ok").asBoolean()).isTrue();
            assertThat(parity.json().at("/tables/0/table").asText()).isEqualTo(db + ".items");
            assertThat(parity.json().at("/tables/0/rowsCompared").asLong()).isEqualTo(4321);
            assertThat(parity.json().at("/tables/0/mismatches")).isEmpty();
            try (Connection t = DriverManager.getConnection(target.jdbcUrl(db), target.user(), target.password()); Statement st = t.createStatement()) {
                st.execute("DELETE FROM items WHERE id = 42");
            }
            CliRun mismatch = CliRun.of("validate", p, "-o", "json");
            assertThat(mismatch.exit()).isEqualTo(5);
            assertThat(mismatch.json().get("ok").asBoolean()).isFalse();
            assertThat(mismatch.json().at("/tables/0/mismatches/0/kind").asText()).isEqualTo("missing");
            assertThat(mismatch.json().at("/tables/0/mismatches/0/key/id").asText()).isEqualTo("42");
            assertThat(CliRun.of("status", p, "-o", "json").json().at("/validation/mismatches").asInt()).isEqualTo(1);
            CliRun repaired = CliRun.of("validate", p, "--repair", "-o", "json");
            assertThat(repaired.exit()).as("mismatch found (and repaired)").isEqualTo(5);
            assertThat(repaired.json().at("/tables/0/mismatches/0/repaired").asBoolean()).isTrue();
            CliRun again = CliRun.of("validate", p, "--tables", "item*");
            assertThat(again.exit()).as(again.out() + again.err()).isZero();
            assertThat(again.out()).contains("passed: 4321 rows compared, 0 mismatches");
            assertThat(CliRun.of("validate", p, "--tables", "nothing").exit()).as("a pattern naming no table").isEqualTo(3);

            // pause: lag grows past the bound, so a short wait times out; resume brings it back
            assertThat(CliRun.of("pause", p).exit()).isZero();
            try (Connection c = DriverManager.getConnection(source.jdbcUrl(db), source.user(), source.password()); Statement st = c.createStatement()) {
                st.execute("UPDATE items SET v = 'changed' WHERE id <= 100");
            }
            Thread.sleep(1500);
            assertThat(CliRun.of("status", p, "-o", "json").json().get("paused").asBoolean()).isTrue();
            assertThat(CliRun.of("wait", p, "--for", "lag<1s", "--timeout", "2s").exit()).isEqualTo(4);
            assertThat(targetCount(target, db, "SELECT COUNT(*) FROM " + db + ".items WHERE v = 'changed'")).isZero();
            assertThat(CliRun.of("resume", p).exit()).isZero();
            assertThat(CliRun.of("wait", p, "--for", "lag<1s", "--timeout", "60s").exit()).isZero();
            long deadline = System.currentTimeMillis() + 30_000;
            while (targetCount(target, db, "SELECT COUNT(*) FROM " + db + ".items WHERE v = 'changed'") < 100
                    && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            assertThat(targetCount(target, db, "SELECT COUNT(*) FROM " + db + ".items WHERE v = 'changed'")).isEqualTo(100);

            // complete refuses while the worker runs (exit 4, the remedy says to stop it first)
            CliRun early = CliRun.of("complete", p, "-o", "json");
            assertThat(early.exit()).as(early.out() + early.err()).isEqualTo(4);
            assertThat(early.json().at("/error/remedy").asText()).contains("stop it first");

            // a failure ends the wait at once with exit 1, and status reads it back without a worker
            try (Connection c = DriverManager.getConnection(source.jdbcUrl(db), source.user(), source.password()); Statement st = c.createStatement()) {
                st.execute("ALTER TABLE items DROP COLUMN extra");
            }
            CliRun failed = CliRun.of("wait", p, "--for", "COMPLETED", "--timeout", "120s", "-o", "json");
            assertThat(failed.exit()).as(failed.out()).isEqualTo(1);
            assertThat(failed.json().at("/error/message").asText()).contains("FAILED");
            assertThat(worker.waitFor(60, TimeUnit.SECONDS)).isTrue();
            JsonNode after = CliRun.of("status", p, "-o", "json").json();
            assertThat(after.at("/worker/running").asBoolean()).isFalse();
            assertThat(after.get("phase").asText()).isEqualTo("FAILED");
            assertThat(after.at("/error/message").asText()).contains("DROP COLUMN");
            assertThat(after.at("/applied/events").asLong()).as("durable event count").isGreaterThanOrEqualTo(100);
            assertThat(after.at("/snapshot/rowsCopied").asLong()).isEqualTo(4321);
            assertThat(after.get("phases").findValuesAsText("phase")).containsSubsequence(List.of("SNAPSHOT", "CATCH_UP", "STREAMING", "FAILED"));
            assertThat(after.at("/validation/state").asText()).as("the last validation, from the target").isEqualTo("passed");

            // no worker: validate reads both databases itself; a difference made now is found, repaired, gone
            try (Connection t = DriverManager.getConnection(target.jdbcUrl(db), target.user(), target.password()); Statement st = t.createStatement()) {
                st.execute("UPDATE items SET v = 'tampered' WHERE id = 7");
            }
            CliRun offline = CliRun.of("validate", p, "--repair", "-o", "json");
            assertThat(offline.exit()).as(offline.out() + offline.err()).isEqualTo(5);
            assertThat(offline.json().at("/tables/0/mismatches/0/kind").asText()).isEqualTo("different");
            assertThat(offline.json().at("/tables/0/mismatches/0/columns/0").asText()).isEqualTo("v");
            assertThat(offline.json().at("/tables/0/mismatches/0/repaired").asBoolean()).isTrue();
            assertThat(CliRun.of("validate", p).exit()).isZero();

            // complete, with no worker: the migration's bookkeeping goes (the tables stay), and a second run finds nothing
            CliRun completed = CliRun.of("complete", p, "-o", "json");
            assertThat(completed.exit()).as(completed.out() + completed.err()).isZero();
            assertThat(completed.json().get("ok").asBoolean()).isTrue();
            assertThat(completed.json().get("removed").toString()).contains("rows of migrator.state").contains("rows of migrator.checkpoint");
            assertThat(targetCount(target, db, "SELECT COUNT(*) FROM " + db + ".items")).as("the migrated rows stay").isPositive();
            assertThat(CliRun.of("wait", p, "--for", "STREAMING", "--timeout", "1s").exit()).as("no migration recorded any more").isEqualTo(4);
            CliRun twice = CliRun.of("complete", p, "-o", "json");
            assertThat(twice.exit()).isZero();
            assertThat(twice.json().get("removed")).isEmpty();
        } finally {
            if (worker != null) {
                worker.destroyForcibly().waitFor();
            }
            for (SandboxEndpoint e : List.of(source, target)) {
                try (Connection c = DriverManager.getConnection(e.jdbcUrl(""), e.user(), e.password()); Statement st = c.createStatement()) {
                    st.execute("DROP DATABASE IF EXISTS " + db);
                    st.execute("DELETE FROM migrator.state WHERE migration = '" + db.replace('_', '-') + "'");
                } catch (java.sql.SQLException ignored) {
                    // the source has no bookkeeping schema
                }
            }
        }
    }

    private static long targetCount(SandboxEndpoint target, String db, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(target.jdbcUrl(db), target.user(), target.password()); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
