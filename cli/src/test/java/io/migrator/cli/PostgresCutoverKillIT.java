package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.migrator.sandbox.Sandbox;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.SandboxEngine;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * kill -9 of the worker inside a PostgreSQL cutover frozen by pgbouncer's PAUSE, which, unlike a session's lock, outlives
 * the worker: clients stay queued until someone says RESUME. Killed inside the fence (the target's table held, so the
 * drain cannot finish), before the point of no return: pgbouncer is still paused; the restarted worker undoes the
 * cutover from its journal (RESUME), the application writes through pgbouncer to the source again. Killed after the point
 * of no return (a switch program before the pgbouncer step kills it): the restarted worker pauses, fences and switches
 * again and reaches CUT_OVER; pgbouncer then sends the application to the target, the application role has lost DML on
 * the old source until `complete`, and every row written before the cutover, one written during the restart included,
 * is on the target. Then reverse replication survives kill -9, `complete --dry-run` changes nothing, and a rollback killed
 * inside its switch is finished by the restart: pgbouncer points at the old source again, the migration streams forward.
 */
@ExtendWith(SandboxExtension.class)
class PostgresCutoverKillIT {
    private final Workers workers = new Workers("pg-cutover-kill");
    private SandboxServers servers;

    @Test
    void aKilledPauseIsResumedBeforeThePointOfNoReturnAndFinishedAfterIt(SandboxServers servers) throws Exception {
        assertThat(KillLoop.JAR).as("the shaded jar is built in the package phase").exists();
        this.servers = servers;
        servers.sandbox().up(EnumSet.of(SandboxEngine.POSTGRESQL), true);
        SandboxEndpoint source = servers.postgresSource();
        SandboxEndpoint target = servers.postgresTarget();
        String db = "pgcutkill_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        String app = "app_" + db.substring(db.length() - 8);
        Path dir = Files.createDirectories(Path.of("target", db).toAbsolutePath());
        Path ini = servers.sandbox().dir().resolve("pgbouncer").resolve("pgbouncer.ini");
        Path users = servers.sandbox().dir().resolve("pgbouncer").resolve("userlist.txt");
        String iniBefore = Files.readString(ini);
        String usersBefore = Files.readString(users);
        Files.writeString(dir.resolve("pw"), source.password());
        Path plan = dir.resolve("plan.yaml");
        Files.writeString(plan, """
                name: %1$s
                source: {engine: postgresql, host: %2$s, port: %3$d, user: %4$s, password: "${file:%5$s}", database: %6$s}
                target: {engine: postgresql, host: %7$s, port: %8$d, user: %9$s, password: "${file:%5$s}", database: %6$s}
                cutover:
                  maxDowntime: 10s
                  maxLag: 5s
                  freeze: pgbouncer
                  reverse: false
                  applicationUsers: [%10$s]
                  switch:
                    - command: ["sh", "-c", "test -f %11$s/switched || { touch %11$s/switched; kill -9 $PPID; sleep 5; }"]
                    - pgbouncer: {admin: "127.0.0.1:%12$d", database: %6$s}
                """.formatted(db.replace('_', '-'), source.host(), source.port(), source.user(), dir.resolve("pw"), db, target.host(),
                target.port(), target.user(), app, dir, Sandbox.POSTGRES_PROXY_PORT + servers.sandbox().portOffset()));
        String p = plan.toString();
        try {
            createOrders(source, target, db, app, 5000);
            Files.writeString(users, usersBefore + "\"" + app + "\" \"app-pw\"\n");
            console("RELOAD");

            workers.start(p);
            workers.awaitPhase(p, "STREAMING");
            try (Connection c = connect(target, db); Statement st = c.createStatement()) {
                st.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO " + app);
            }
            assertThat(CliRun.of("validate", p).exit()).isZero();
            assertThat(appInsert(db, 10_001)).isEqualTo("inserted"); // through pgbouncer: pgbouncer now knows the database

            // 1: killed inside the fence, before the point of no return, while pgbouncer holds the application paused
            assertThat(CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "60s").exit()).isZero();
            CliRun first;
            try (Connection hold = connect(target, db); Statement st = hold.createStatement()) {
                hold.setAutoCommit(false);
                st.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"); // the applier queues behind it: the fence waits
                insert(source, db, 10_002);
                CompletableFuture<CliRun> cutover = CompletableFuture.supplyAsync(() -> CliRun.of("cutover", p, "-o", "json"));
                long deadline = System.currentTimeMillis() + 30_000;
                while (!paused(db) && System.currentTimeMillis() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(paused(db)).as("the freeze paused the database in pgbouncer").isTrue();
                workers.get(0).destroyForcibly();
                assertThat(workers.get(0).waitFor(30, TimeUnit.SECONDS)).isTrue();
                first = cutover.get(60, TimeUnit.SECONDS);
                hold.rollback();
            }
            assertThat(first.exit()).as(first.out() + first.err()).isNotZero();
            assertThat(paused(db)).as("a PAUSE outlives the worker that said it").isTrue();
            assertThat(Workers.durablePhase(p)).isEqualTo("CUTTING_OVER");
            // from here on with reverse replication (the default): the test's lock above kept a transaction open on the
            // target, and the reverse slot, made on the target before the freeze, waits for every one that is open
            Files.writeString(plan, Files.readString(plan).replace("  reverse: false\n", ""));
            workers.start(p);
            workers.awaitPhase(p, "STREAMING");
            assertThat(paused(db)).as("the restart undid the freeze: RESUME").isFalse();
            assertThat(Files.exists(dir.resolve("switched"))).as("nothing was switched").isFalse();
            assertThat(appInsert(db, 10_003)).as("the application writes through pgbouncer again").isEqualTo("inserted");

            // 2: killed after the point of no return, by the switch program that runs before the pgbouncer step
            assertThat(CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "60s").exit()).isZero();
            CliRun second = CliRun.of("cutover", p, "-o", "json");
            assertThat(second.exit()).as(second.out() + second.err()).isNotZero();
            assertThat(workers.get(1).waitFor(30, TimeUnit.SECONDS)).as("the switch program killed the worker").isTrue();
            assertThat(Workers.durablePhase(p)).isEqualTo("CUTTING_OVER");
            assertThat(paused(db)).as("still paused, still on the source").isTrue();
            insert(source, db, 10_004); // straight into the old source while no worker runs: the restart must carry it
            workers.start(p);
            workers.awaitPhase(p, "CUT_OVER");
            assertThat(paused(db)).isFalse();
            assertThat(console("SHOW DATABASES")).as("pgbouncer sends the database to the target")
                    .containsPattern("(?m)^" + db + "\\|127\\.0\\.0\\.1\\|" + target.port() + "\\|");
            assertThat(appInsert(db, 10_005)).isEqualTo("inserted");

            JsonNode status = CliRun.of("status", p, "-o", "json").json();
            assertThat(status.get("phase").asText()).isEqualTo("CUT_OVER");
            List<String> journal = new ArrayList<>();
            status.get("phases").forEach(e -> journal.add(e.get("detail").asText()));
            assertThat(String.join("\n", journal)).contains("cutover aborted").contains("cutover: point of no return, switching traffic")
                    .contains("cut over: writes open on the target");
            try (Connection s = connect(source, db); Connection t = connect(target, db)) {
                List<String> onSource = rows(s);
                onSource.removeAll(List.of("10005", "app-10005")); // it streams back to the old source (reverse replication)
                assertThat(onSource).contains("10002", "10003", "10004");
                assertThat(rows(t)).as("every row written before the cutover is on the target, and the one after it").containsAll(onSource)
                        .contains("10005");
            }
            assertThat(directInsert(source, db, app)).as("the application role lost DML on the old source").contains("permission denied");

            // 3: reverse replication survives kill -9: the new server's writes before and while no worker runs reach the old
            // source; the forward slot on the old source is gone, the reverse one is on the new server
            String forwardSlot = "migrator_" + db; // and a hash: the plan's name has a dash
            String reverseSlot = forwardSlot + "_reverse";
            workers.awaitStatus(p, "direction", "reverse");
            assertThat(slots(source, db)).as("the forward slot is dropped once cut over").isEmpty();
            assertThat(slots(target, db)).singleElement().asString().startsWith(reverseSlot);
            insert(target, db, 20_001);
            workers.get(2).destroyForcibly().waitFor();
            insert(target, db, 20_002);
            workers.start(p);
            workers.awaitStatus(p, "direction", "reverse");
            awaitSame(source, target, db, "20001", "20002");

            // complete --dry-run says what complete would do and changes nothing; without --yes it is refused like complete
            workers.get(3).destroy();
            assertThat(workers.get(3).waitFor(60, TimeUnit.SECONDS)).isTrue();
            CliRun refused = CliRun.of("complete", p, "--dry-run", "-o", "json");
            assertThat(refused.exit()).as(refused.out() + refused.err()).isEqualTo(4);
            assertThat(refused.json().at("/error/message").asText()).contains("no rollback is possible afterwards");
            CliRun preview = CliRun.of("complete", p, "--dry-run", "--yes", "-o", "json");
            assertThat(preview.exit()).as(preview.out() + preview.err()).isZero();
            assertThat(preview.json().get("dryRun").asBoolean()).isTrue();
            assertThat(preview.json().get("released").toString()).contains("reverse replication " + db.replace('_', '-') + "-reverse ends")
                    .contains("reverse, on the new server: replication slot " + reverseSlot).contains("the lasting freeze on the old "
                            + "source ends: what it took from " + app + " there is given back");
            assertThat(preview.json().get("removed").toString()).contains("the bookkeeping of this migration");
            assertThat(slots(target, db)).as("a dry run drops nothing").singleElement().asString().startsWith(reverseSlot);
            assertThat(directInsert(source, db, app)).as("a dry run gives nothing back").contains("permission denied");
            workers.start(p);
            workers.awaitStatus(p, "direction", "reverse");

            // 4: a rollback killed inside its switch, after its point of no return (the switch program kills once more): the
            // restart finishes it, pgbouncer sends the application to the old source, whose grants are back, and the
            // migration streams forward again from a slot the rollback made on the old source before its freeze
            Files.delete(dir.resolve("switched"));
            assertThat(CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "60s").exit()).as("the reverse stream's lag").isZero();
            CliRun validated = CliRun.of("validate", p, "-o", "json");
            assertThat(validated.exit()).as(validated.out() + validated.err()).isZero();
            CliRun rollback = CliRun.of("rollback", p, "-o", "json");
            assertThat(rollback.exit()).as(rollback.out() + rollback.err()).isNotZero();
            assertThat(workers.get(4).waitFor(30, TimeUnit.SECONDS)).as("the switch program killed the worker inside the rollback").isTrue();
            assertThat(paused(db)).as("the rollback's PAUSE outlives the worker").isTrue();
            insert(target, db, 20_003); // straight into the new server while no worker runs: the restart carries it back
            workers.start(p);
            workers.awaitPhase(p, "STREAMING");
            assertThat(paused(db)).isFalse();
            assertThat(console("SHOW DATABASES")).as("pgbouncer sends the database to the old source again")
                    .containsPattern("(?m)^" + db + "\\|127\\.0\\.0\\.1\\|" + source.port() + "\\|");
            JsonNode forward = CliRun.of("status", p, "-o", "json").json();
            assertThat(forward.get("direction").asText()).isEqualTo("forward");
            List<String> phases = new ArrayList<>();
            forward.get("phases").forEach(e -> phases.add(e.get("phase").asText()));
            assertThat(phases).containsSubsequence("CUT_OVER", "ROLLED_BACK", "CATCH_UP", "STREAMING");
            assertThat(appInsert(db, 10_006)).as("the application writes on the old source through pgbouncer").isEqualTo("inserted");
            awaitSame(source, target, db, "10005", "10006", "20001", "20002", "20003");
            assertThat(slots(source, db)).as("the forward slot, made before the rollback's freeze").singleElement().asString()
                    .startsWith(forwardSlot).doesNotContain("_reverse");
            assertThat(slots(target, db)).as("the reverse slot is dropped").isEmpty();

            workers.get(5).destroy();
            assertThat(workers.get(5).waitFor(60, TimeUnit.SECONDS)).isTrue();
            CliRun complete = CliRun.of("complete", p, "-o", "json");
            assertThat(complete.exit()).as(complete.out() + complete.err()).isZero();
            assertThat(complete.json().get("released").toString()).contains("replication slot " + forwardSlot);
            assertThat(slots(source, db)).isEmpty();
        } finally {
            workers.close();
            Files.writeString(ini, iniBefore);
            Files.writeString(users, usersBefore);
            try {
                console("RESUME " + db);
            } catch (AssertionError notPaused) {
                // the usual case
            }
            console("RELOAD");
            CliRun.of("complete", p, "--yes");
            dropOrders(source, target, db, app);
        }
    }

    /**
     * The revoke freeze killed inside the fence: the REVOKE committed with its record in migrator.revoked_grants, the
     * worker gone; the restart's undo grants exactly those back and streams on. Without reverse replication: the lock that
     * holds the applier keeps a transaction open on the target, which the reverse slot (made before the freeze) would wait for.
     */
    @Test
    void aKilledRevokeFreezeGivesTheGrantsBackOnRestart(SandboxServers servers) throws Exception {
        assertThat(KillLoop.JAR).as("the shaded jar is built in the package phase").exists();
        this.servers = servers;
        SandboxEndpoint source = servers.postgresSource();
        SandboxEndpoint target = servers.postgresTarget();
        String db = "pgrevkill_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        String app = "app_" + db.substring(db.length() - 8);
        Path dir = Files.createDirectories(Path.of("target", db).toAbsolutePath());
        Files.writeString(dir.resolve("pw"), source.password());
        Path plan = dir.resolve("plan.yaml");
        Files.writeString(plan, """
                name: %1$s
                source: {engine: postgresql, host: %2$s, port: %3$d, user: %4$s, password: "${file:%5$s}", database: %6$s}
                target: {engine: postgresql, host: %7$s, port: %8$d, user: %9$s, password: "${file:%5$s}", database: %6$s}
                cutover: {maxDowntime: 10s, maxLag: 5s, freeze: revoke, applicationUsers: [%10$s], reverse: false}
                """.formatted(db.replace('_', '-'), source.host(), source.port(), source.user(), dir.resolve("pw"), db, target.host(),
                target.port(), target.user(), app));
        String p = plan.toString();
        try {
            createOrders(source, target, db, app, 2000);
            workers.start(p);
            workers.awaitPhase(p, "STREAMING");
            try (Connection c = connect(target, db); Statement st = c.createStatement()) {
                st.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO " + app);
            }
            assertThat(CliRun.of("validate", p).exit()).isZero();
            assertThat(CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "60s").exit()).isZero();
            try (Connection hold = connect(target, db); Statement st = hold.createStatement()) {
                hold.setAutoCommit(false);
                st.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"); // the applier queues behind it: the fence waits
                insert(source, db, 10_001);
                CompletableFuture<CliRun> cutover = CompletableFuture.supplyAsync(() -> CliRun.of("cutover", p, "-o", "json"));
                long deadline = System.currentTimeMillis() + 30_000;
                while (directInsert(source, db, app).equals("inserted") && System.currentTimeMillis() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(directInsert(source, db, app)).as("the freeze took the role's writes").contains("permission denied");
                workers.get(0).destroyForcibly();
                assertThat(workers.get(0).waitFor(30, TimeUnit.SECONDS)).isTrue();
                assertThat(cutover.get(60, TimeUnit.SECONDS).exit()).isNotZero();
                hold.rollback();
            }
            assertThat(Workers.durablePhase(p)).isEqualTo("CUTTING_OVER");
            assertThat(directInsert(source, db, app)).as("a revoke outlives the worker").contains("permission denied");
            workers.start(p);
            workers.awaitPhase(p, "STREAMING");
            assertThat(directInsert(source, db, app)).as("the restart gave the grants back").isEqualTo("inserted");
            try (Connection c = connect(source, db); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*) FROM migrator.revoked_grants")) {
                rs.next();
                assertThat(rs.getInt(1)).as("no revoked grant left on record").isZero();
            }
            try (Connection s = connect(source, db); Connection t = connect(target, db)) {
                long deadline = System.currentTimeMillis() + 60_000;
                while (!rows(t).equals(rows(s)) && System.currentTimeMillis() < deadline) {
                    Thread.sleep(200);
                }
                assertThat(rows(t)).as("the stream went on: the target equals the source").isEqualTo(rows(s)).contains("10001", "20000");
            }
        } finally {
            workers.close();
            CliRun.of("complete", p, "--yes");
            dropOrders(source, target, db, app);
        }
    }

    /** The database on both sides and the application's role (roles are not replicated); the source's orders table seeded. */
    private static void createOrders(SandboxEndpoint source, SandboxEndpoint target, String db, String app, int rows) throws SQLException {
        for (SandboxEndpoint e : List.of(source, target)) {
            try (Connection c = connect(e, "postgres"); Statement st = c.createStatement()) {
                st.execute("CREATE DATABASE " + db);
                st.execute("CREATE ROLE " + app + " LOGIN PASSWORD 'app-pw'");
            }
        }
        try (Connection c = connect(source, db); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id int PRIMARY KEY, note text)");
            st.execute("INSERT INTO orders SELECT g, 'seed-' || g FROM generate_series(1, " + rows + ") g");
            st.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO " + app);
        }
    }

    private static void dropOrders(SandboxEndpoint source, SandboxEndpoint target, String db, String app) throws SQLException {
        for (SandboxEndpoint e : List.of(source, target)) {
            try (Connection c = connect(e, "postgres"); Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
                st.execute("DROP ROLE IF EXISTS " + app);
            }
        }
    }

    private static Connection connect(SandboxEndpoint e, String db) throws SQLException {
        return DriverManager.getConnection(e.jdbcUrl(db), e.user(), e.password());
    }

    /** One insert as the application, through pgbouncer: "inserted" or the error. */
    private String appInsert(String db, int id) {
        String url = "jdbc:postgresql://127.0.0.1:" + (Sandbox.POSTGRES_PROXY_PORT + servers.sandbox().portOffset()) + "/" + db
                + "?prepareThreshold=0&socketTimeout=30";
        try (Connection c = DriverManager.getConnection(url, "app_" + db.substring(db.length() - 8), "app-pw"); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO orders VALUES (" + id + ", 'app-" + id + "')");
            return "inserted";
        } catch (SQLException e) {
            return e.getMessage();
        }
    }

    private static String directInsert(SandboxEndpoint source, String db, String app) {
        try (Connection c = DriverManager.getConnection(source.jdbcUrl(db), app, "app-pw"); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO orders VALUES (20000, 'direct') ON CONFLICT (id) DO NOTHING");
            return "inserted";
        } catch (SQLException e) {
            return e.getMessage();
        }
    }

    private static void insert(SandboxEndpoint source, String db, int id) throws SQLException {
        try (Connection c = connect(source, db); Statement st = c.createStatement()) {
            st.execute("INSERT INTO orders VALUES (" + id + ", 'written-" + id + "')");
        }
    }

    /**
     * Whether pgbouncer holds new clients of the database back: a probe that does not get an answer within a second.
     * (SHOW DATABASES cannot tell: pgbouncer stops listing a paused wildcard database that has no connection left.)
     */
    private boolean paused(String db) {
        String url = "jdbc:postgresql://127.0.0.1:" + (Sandbox.POSTGRES_PROXY_PORT + servers.sandbox().portOffset()) + "/" + db
                + "?prepareThreshold=0&connectTimeout=1&socketTimeout=1&loginTimeout=1";
        SandboxEndpoint source = servers.postgresSource();
        try (Connection c = DriverManager.getConnection(url, source.user(), source.password()); Statement st = c.createStatement()) {
            st.executeQuery("SELECT 1").close();
            return false;
        } catch (SQLException e) {
            return true;
        }
    }

    /** pgbouncer's admin console through psql (it refuses JDBC's startup parameters): unaligned rows. */
    private String console(String command) throws Exception {
        SandboxEndpoint source = servers.postgresSource();
        ProcessBuilder pb = new ProcessBuilder("psql", "-h", "127.0.0.1", "-p", Integer.toString(Sandbox.POSTGRES_PROXY_PORT
                + servers.sandbox().portOffset()), "-U", source.user(), "-At", "-c", command, "pgbouncer").redirectErrorStream(true);
        pb.environment().put("PGPASSWORD", source.password());
        Process process = pb.start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor()).as("psql %s: %s", command, out).isZero();
        return out;
    }

    /** The replication slots of the database on one server. */
    private static List<String> slots(SandboxEndpoint side, String db) throws SQLException {
        List<String> slots = new ArrayList<>();
        try (Connection c = connect(side, "postgres"); java.sql.PreparedStatement ps = c.prepareStatement(
                "SELECT slot_name FROM pg_replication_slots WHERE database = ?")) {
            ps.setString(1, db);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    slots.add(rs.getString(1));
                }
            }
        }
        return slots;
    }

    /** Until both servers hold the same orders, these ids among them. */
    private static void awaitSame(SandboxEndpoint source, SandboxEndpoint target, String db, String... ids) throws Exception {
        long deadline = System.currentTimeMillis() + 60_000;
        List<String> s = List.of();
        List<String> t = List.of();
        while (System.currentTimeMillis() < deadline) {
            try (Connection sc = connect(source, db); Connection tc = connect(target, db)) {
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

    private static List<String> rows(Connection c) throws SQLException {
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
