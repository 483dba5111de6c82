package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * kill -9 of the worker inside the cutover, through the CLI as a runbook pipeline drives it. The plan's freeze and switch
 * are programs that SIGKILL the worker (their parent) the first time they run. Killed inside the freeze, before the point
 * of no return: the restarted worker undoes the cutover from its journal (the unfreeze program runs) and streams on.
 * Killed inside the switch, after it: the restarted worker finishes the cutover forward (the switch runs again) and
 * reaches CUT_OVER. Nothing written to the source before the cutover is missing on the target. Then reverse replication:
 * killed while it streams, it resumes and carries every write of the new server to the old source; a rollback killed inside
 * its freeze is undone, one killed inside its switch is finished by the restart, and the migration streams forward again.
 */
@ExtendWith(SandboxExtension.class)
class MariaDbCutoverKillIT {
    private final Workers workers = new Workers("cutover-kill");

    @Test
    void aKilledCutoverIsUndoneBeforeItsPointOfNoReturnAndFinishedAfterIt(SandboxServers servers) throws Exception {
        assertThat(KillLoop.JAR).as("the shaded jar is built in the package phase").exists();
        SandboxEndpoint source = servers.mariadbSource();
        SandboxEndpoint target = servers.mariadbTarget();
        String db = "cutkill_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        Path dir = Files.createDirectories(Path.of("target", db).toAbsolutePath());
        try (Connection c = DriverManager.getConnection(source.jdbcUrl(""), source.user(), source.password()); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + db);
            st.execute("USE " + db);
            st.execute("CREATE TABLE " + db + ".orders (id INT PRIMARY KEY, note VARCHAR(40))");
            st.execute("INSERT INTO " + db + ".orders SELECT seq, CONCAT('seed-', seq) FROM seq_1_to_5000");
        }
        Path secret = dir.resolve("pw");
        Files.writeString(secret, source.password());
        Path plan = dir.resolve("plan.yaml");
        Files.writeString(plan, """
                name: %10$s
                source: {engine: mariadb, host: %2$s, port: %3$d, user: %4$s, password: "${file:%5$s}", database: %1$s}
                target: {engine: mariadb, host: %6$s, port: %7$d, user: %8$s, password: "${file:%5$s}", database: %1$s}
                cutover:
                  maxDowntime: 10s
                  maxLag: 5s
                  freeze: command
                  freezeCommand: ["sh", "-c", "test -f %9$s/froze || { touch %9$s/froze; kill -9 $PPID; sleep 5; }; test $MIGRATOR_DIRECTION = forward || test -f %9$s/rfroze || { touch %9$s/rfroze; kill -9 $PPID; sleep 5; }"]
                  unfreezeCommand: ["sh", "-c", "touch %9$s/unfroze; echo $MIGRATOR_DIRECTION > %9$s/unfroze-direction"]
                  switch:
                    - command: ["sh", "-c", "test -f %9$s/switched || { touch %9$s/switched; kill -9 $PPID; sleep 5; }; test $MIGRATOR_TARGET_PORT != %11$d || test -f %9$s/rswitched || { touch %9$s/rswitched; kill -9 $PPID; sleep 5; }; echo $MIGRATOR_TARGET_PORT > %9$s/switch-done"]
                """.formatted(db, source.host(), source.port(), source.user(), secret, target.host(), target.port(),
                target.user(), dir, db.replace('_', '-'), source.port()));
        String p = plan.toString();
        try {
            workers.start(p);
            workers.awaitPhase(p, "STREAMING");
            assertThat(CliRun.of("validate", p).exit()).isZero();
            insert(source, db, 10_001);

            // 1: killed inside the freeze, before the point of no return
            assertThat(CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "60s").exit()).isZero();
            CliRun first = CliRun.of("cutover", p, "-o", "json");
            assertThat(first.exit()).as(first.out() + first.err()).isNotZero();
            assertThat(workers.get(0).waitFor(30, TimeUnit.SECONDS)).as("the freeze program killed the worker").isTrue();
            assertThat(Files.exists(dir.resolve("froze"))).isTrue();
            assertThat(Workers.durablePhase(p)).isEqualTo("CUTTING_OVER");
            workers.start(p);
            workers.awaitPhase(p, "STREAMING");
            assertThat(Files.exists(dir.resolve("unfroze"))).as("the restart undid the freeze: the unfreeze program ran").isTrue();
            assertThat(Files.exists(dir.resolve("switched"))).as("nothing was switched").isFalse();
            insert(source, db, 10_002);

            // 2: killed inside the switch, after the point of no return
            assertThat(CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "60s").exit()).isZero();
            CliRun second = CliRun.of("cutover", p, "-o", "json");
            assertThat(second.exit()).as(second.out() + second.err()).isNotZero();
            assertThat(workers.get(1).waitFor(30, TimeUnit.SECONDS)).as("the switch program killed the worker").isTrue();
            assertThat(Files.exists(dir.resolve("switched"))).isTrue();
            assertThat(Files.exists(dir.resolve("switch-done"))).isFalse();
            assertThat(Workers.durablePhase(p)).isEqualTo("CUTTING_OVER");
            // the worker's freeze died with it: the old source takes this write before the restart, which must carry it
            insert(source, db, 10_003);
            workers.start(p);
            workers.awaitPhase(p, "CUT_OVER");
            assertThat(Files.readString(dir.resolve("switch-done")).trim()).as("the restart ran the switch again, to the end")
                    .isEqualTo(Integer.toString(target.port()));

            JsonNode status = CliRun.of("status", p, "-o", "json").json();
            assertThat(status.get("phase").asText()).isEqualTo("CUT_OVER");
            List<String> journal = new ArrayList<>();
            status.get("phases").forEach(e -> journal.add(e.get("detail").asText()));
            assertThat(journal).contains("cutover: point of no return, switching traffic");
            assertThat(String.join("\n", journal)).contains("cutover aborted").contains("cut over: writes open on the target");

            CliRun again = CliRun.of("cutover", p, "-o", "json");
            assertThat(again.exit()).as("a migration already cut over is refused").isEqualTo(4);
            assertThat(again.json().at("/error/code").asText()).isEqualTo("CUTOVER_PRECONDITION");
            assertThat(again.json().at("/error/message").asText()).contains("CUT_OVER, not STREAMING");

            try (Connection s = DriverManager.getConnection(source.jdbcUrl(db), source.user(), source.password());
                 Connection t = DriverManager.getConnection(target.jdbcUrl(db), target.user(), target.password())) {
                assertThat(rows(t)).as("every row written before the cutover is on the target").isEqualTo(rows(s)).contains("10001", "10002", "10003");
            }

            // 3: reverse replication survives kill -9: the new server's writes before and while no worker runs reach the old source
            workers.awaitStatus(p, "direction", "reverse");
            insert(target, db, 20_001);
            workers.get(2).destroyForcibly().waitFor();
            insert(target, db, 20_002);
            workers.start(p);
            workers.awaitStatus(p, "direction", "reverse");
            awaitSame(source, target, db, "20001", "20002");
            // while a rollback is possible, complete asks for --yes (it would end reverse replication, the way back)
            workers.get(3).destroy();
            assertThat(workers.get(3).waitFor(60, TimeUnit.SECONDS)).isTrue();
            CliRun early = CliRun.of("complete", p, "-o", "json");
            assertThat(early.exit()).as(early.out() + early.err()).isEqualTo(4);
            assertThat(early.json().at("/error/message").asText()).contains("no rollback is possible afterwards");
            assertThat(early.json().at("/error/remedy").asText()).contains("--yes");
            workers.start(p);
            workers.awaitStatus(p, "direction", "reverse");

            // 4: a rollback killed inside its freeze, before its point of no return: undone, reverse replication goes on. The
            // restarted reverse worker no longer knows every row changed since the fence: a clean validation of the reverse
            // direction (the old source against the new server) is required first, as for a cutover
            assertThat(CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "60s").exit()).as("the reverse stream's lag").isZero();
            CliRun unvalidated = CliRun.of("rollback", p, "-o", "json");
            assertThat(unvalidated.exit()).isEqualTo(4);
            assertThat(unvalidated.json().at("/error/message").asText()).contains("validation: no validation has run");
            CliRun validated = CliRun.of("validate", p, "-o", "json");
            assertThat(validated.exit()).as(validated.out() + validated.err()).isZero();
            CliRun rollback = CliRun.of("rollback", p, "-o", "json");
            assertThat(rollback.exit()).as(rollback.out() + rollback.err()).isNotZero();
            assertThat(workers.get(4).waitFor(30, TimeUnit.SECONDS)).as("the freeze program killed the worker inside the rollback").isTrue();
            assertThat(Files.exists(dir.resolve("rfroze"))).isTrue();
            workers.start(p);
            workers.awaitStatus(p, "direction", "reverse");
            assertThat(Files.readString(dir.resolve("unfroze-direction")).trim()).as("the restart undid the rollback's freeze").isEqualTo("reverse");
            insert(target, db, 20_003);
            awaitSame(source, target, db, "20003");

            // 5: a rollback killed inside its switch, after its point of no return: finished forward by the restart, then the
            // migration streams forward again from the old source
            assertThat(CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "60s").exit()).isZero();
            CliRun rollback2 = CliRun.of("rollback", p, "-o", "json");
            assertThat(rollback2.exit()).as(rollback2.out() + rollback2.err()).isNotZero();
            assertThat(workers.get(5).waitFor(30, TimeUnit.SECONDS)).as("the switch program killed the worker inside the rollback").isTrue();
            assertThat(Files.exists(dir.resolve("rswitched"))).isTrue();
            workers.start(p);
            workers.awaitPhase(p, "STREAMING");
            assertThat(Files.readString(dir.resolve("switch-done")).trim()).as("the restart switched the traffic back, to the end")
                    .isEqualTo(Integer.toString(source.port()));
            JsonNode forward = CliRun.of("status", p, "-o", "json").json();
            assertThat(forward.get("direction").asText()).isEqualTo("forward");
            List<String> phases = new ArrayList<>();
            forward.get("phases").forEach(e -> phases.add(e.get("phase").asText()));
            assertThat(phases).containsSubsequence("CUT_OVER", "ROLLED_BACK", "CATCH_UP", "STREAMING");
            insert(source, db, 10_004); // the old source takes the writes again, and they stream forward
            awaitSame(source, target, db, "10004", "20001", "20002", "20003");

            workers.get(6).destroy();
            assertThat(workers.get(6).waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(workers.get(6).exitValue()).as("SIGTERM exits 0").isZero();
            CliRun complete = CliRun.of("complete", p, "--yes", "-o", "json");
            assertThat(complete.exit()).as(complete.out() + complete.err()).isZero();
        } finally {
            workers.close();
            CliRun.of("complete", p, "--yes"); // after a failure too: nothing of it stays on the servers
            for (SandboxEndpoint e : List.of(source, target)) {
                try (Connection c = DriverManager.getConnection(e.jdbcUrl(""), e.user(), e.password()); Statement st = c.createStatement()) {
                    st.execute("DROP DATABASE IF EXISTS " + db);
                }
            }
        }
    }

    private static void insert(SandboxEndpoint source, String db, int id) throws Exception {
        try (Connection c = DriverManager.getConnection(source.jdbcUrl(db), source.user(), source.password()); Statement st = c.createStatement()) {
            st.execute("INSERT INTO orders VALUES (" + id + ", 'written-" + id + "')");
        }
    }

    /** Until both servers hold the same orders, these ids among them. */
    private static void awaitSame(SandboxEndpoint source, SandboxEndpoint target, String db, String... ids) throws Exception {
        long deadline = System.currentTimeMillis() + 60_000;
        List<String> s = List.of();
        List<String> t = List.of();
        while (System.currentTimeMillis() < deadline) {
            try (Connection sc = DriverManager.getConnection(source.jdbcUrl(db), source.user(), source.password());
                 Connection tc = DriverManager.getConnection(target.jdbcUrl(db), target.user(), target.password())) {
                s = rows(sc);
                t = rows(tc);
            }
            if (s.equals(t) && s.containsAll(List.of(ids))) {
                return;
            }
            Thread.sleep(200);
        }
        assertThat(s).as("the old source against the new server").isEqualTo(t).contains(ids);
    }

    private static List<String> rows(Connection c) throws Exception {
        List<String> rows = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT id, note FROM orders ORDER BY id")) {
            while (rs.next()) {
                rows.add(rs.getString(1));
                rows.add(rs.getString(2));
            }
        }
        return rows;
    }
}
