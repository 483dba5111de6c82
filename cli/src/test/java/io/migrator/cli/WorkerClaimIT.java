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
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.Jedis;

/**
 * One worker per migration, found wherever it listens. A worker started with {@code run --listen} (not the plan's
 * control.listen) registers on the target, and status, wait, pause and resume reach it there; a second worker of the same
 * migration is refused with exit 4 naming the first, which keeps applying; after kill -9 a new worker claims the
 * migration at once; a clean stop removes the registration. Real jar, real servers, one test per engine family.
 */
@ExtendWith(SandboxExtension.class)
class WorkerClaimIT {
    private static final Path JAR = Path.of("target", "migrator.jar").toAbsolutePath();

    /** Reads what the target holds: the registration, and whether a source change arrived. */
    private interface Target {
        /** The registered worker's address and pid, as stored on the target; empty when none is stored. */
        Optional<String> registration() throws Exception;

        /** Changes the source (marker {@code n}) and answers whether the target holds that change now. */
        void change(int n) throws Exception;

        boolean arrived(int n) throws Exception;
    }

    @Test
    void mariadb(SandboxServers servers) throws Exception {
        SandboxEndpoint source = servers.mariadbSource();
        SandboxEndpoint target = servers.mariadbTarget();
        String db = "claim_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        String name = db.replace('_', '-');
        try (Connection c = DriverManager.getConnection(source.jdbcUrl(""), source.user(), source.password()); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + db);
            st.execute("USE " + db);
            st.execute("CREATE TABLE " + db + ".`odd name` (id INT PRIMARY KEY, v VARCHAR(20))");
            st.execute("INSERT INTO " + db + ".`odd name` SELECT seq, CONCAT('v', seq) FROM seq_1_to_2000");
        }
        try {
            Path plan = plan(source, target, "mariadb", db, name, "");
            Target t = sqlTarget(source, target, db, name, "`odd name`");
            claimFlow(plan, name, t, false);
            fenced(plan, name, t, target, db);
        } finally {
            for (SandboxEndpoint e : List.of(source, target)) {
                try (Connection c = DriverManager.getConnection(e.jdbcUrl(""), e.user(), e.password()); Statement st = c.createStatement()) {
                    st.execute("DROP DATABASE IF EXISTS " + db);
                }
            }
        }
    }

    @Test
    void postgresql(SandboxServers servers) throws Exception {
        SandboxEndpoint source = servers.postgresSource();
        SandboxEndpoint target = servers.postgresTarget();
        String db = "claim_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        String name = db.replace('_', '-');
        for (SandboxEndpoint e : List.of(source, target)) {
            try (Connection c = DriverManager.getConnection(e.jdbcUrl("postgres"), e.user(), e.password()); Statement st = c.createStatement()) {
                st.execute("CREATE DATABASE " + db);
            }
        }
        try (Connection c = DriverManager.getConnection(source.jdbcUrl(db), source.user(), source.password()); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE \"odd name\" (id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO \"odd name\" SELECT g, 'v' || g FROM generate_series(1, 2000) g");
        }
        try {
            Path plan = plan(source, target, "postgresql", db, name, "");
            claimFlow(plan, name, sqlTarget(source, target, db, name, "\"odd name\""), false);
            lostClaim(plan, name, target, db);
            CliRun completed = CliRun.of("complete", plan.toString(), "-o", "json"); // drops the slot and the publication
            assertThat(completed.exit()).as(completed.out() + completed.err()).isZero();
        } finally {
            try (Connection c = DriverManager.getConnection(source.jdbcUrl("postgres"), source.user(), source.password());
                 Statement st = c.createStatement()) {
                st.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '" + db + "' AND NOT active");
                st.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            }
            try (Connection c = DriverManager.getConnection(target.jdbcUrl("postgres"), target.user(), target.password());
                 Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            }
        }
    }

    @Test
    void redis(SandboxServers servers) throws Exception {
        SandboxEndpoint source = servers.redisSource();
        SandboxEndpoint target = servers.redisTarget();
        int db = 7; // a database no other test uses
        String name = "claim-" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        try (Jedis s = jedis(source, db); Jedis t = jedis(target, db)) {
            s.flushDB();
            t.flushDB();
            for (int i = 0; i < 2000; i++) {
                s.set("k:" + i, "v" + i);
            }
        }
        Path plan = plan(source, target, "redis", null, name, "databases: [" + db + "]");
        try {
            claimFlow(plan, name, new Target() {
                @Override
                public Optional<String> registration() {
                    try (Jedis t = jedis(target, 0)) {
                        String value = t.get("__migrator__:" + name + ":worker");
                        if (value == null) {
                            return Optional.empty();
                        }
                        String[] f = value.split("\t");
                        return Optional.of(f[1] + " " + f[3]);
                    }
                }

                @Override
                public void change(int n) {
                    try (Jedis s = jedis(source, db)) {
                        s.set("marker", Integer.toString(n));
                    }
                }

                @Override
                public boolean arrived(int n) {
                    try (Jedis t = jedis(target, db)) {
                        return Integer.toString(n).equals(t.get("marker"));
                    }
                }
            }, true);
            assertThat(CliRun.of("complete", plan.toString()).exit()).isZero();
        } finally {
            try (Jedis s = jedis(source, db); Jedis t = jedis(target, db)) {
                s.flushDB();
                t.flushDB();
            }
        }
    }

    private void claimFlow(Path plan, String name, Target target, boolean redis) throws Exception {
        assertThat(JAR).as("the shaded jar is built in the package phase").exists();
        String p = plan.toString();
        int first = freePort();
        int second = freePort();
        int third = freePort();
        Process a = null;
        Process b = null;
        Process c = null;
        try {
            // the first worker serves where the plan does not say: status, wait, pause and resume find it through the target
            a = start(p, first, "claim-" + name + "-1.log");
            CliRun caughtUp = CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "120s", "-o", "json");
            assertThat(caughtUp.exit()).as(caughtUp.out() + caughtUp.err() + log(name, 1)).isZero();
            JsonNode status = CliRun.of("status", p, "-o", "json").json();
            assertThat(status.at("/worker/running").asBoolean()).isTrue();
            assertThat(status.at("/worker/listen").asText()).isEqualTo("127.0.0.1:" + first);
            assertThat(status.at("/lag/seconds").isNumber()).as("live lag, not the durable fallback").isTrue();
            assertThat(target.registration()).contains("127.0.0.1:" + first + " " + a.pid());
            assertThat(CliRun.of("pause", p).exit()).isZero();
            assertThat(CliRun.of("status", p, "-o", "json").json().get("paused").asBoolean()).isTrue();
            assertThat(CliRun.of("resume", p).exit()).isZero();

            // a second worker of the same migration is refused (exit 4), names the first, and the first keeps applying
            b = start(p, second, "claim-" + name + "-2.log");
            assertThat(b.waitFor(60, TimeUnit.SECONDS)).as(log(name, 2)).isTrue();
            assertThat(b.exitValue()).as(log(name, 2)).isEqualTo(4);
            assertThat(log(name, 2)).contains("already runs").contains("pid " + a.pid());
            assertThat(a.isAlive()).isTrue();
            Process same = start(p, first, "claim-" + name + "-2b.log"); // the first worker's own port: named, not just "port taken"
            assertThat(same.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(same.exitValue()).as(log(name, "2b")).isEqualTo(4);
            assertThat(log(name, "2b")).contains("already runs").contains("pid " + a.pid());
            target.change(1);
            assertThat(CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "60s").exit()).isZero();
            awaitArrival(target, 1);
            assertThat(CliRun.of("status", p, "-o", "json").json().at("/worker/listen").asText()).isEqualTo("127.0.0.1:" + first);

            // kill -9: the next worker claims the migration at once and registers its own address
            a.destroyForcibly().waitFor();
            target.change(2);
            long started = System.nanoTime();
            c = start(p, third, "claim-" + name + "-3.log");
            CliRun back = CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "120s", "-o", "json");
            assertThat(back.exit()).as(back.out() + back.err() + log(name, 3)).isZero();
            assertThat(CliRun.of("status", p, "-o", "json").json().at("/worker/listen").asText()).isEqualTo("127.0.0.1:" + third);
            assertThat(target.registration()).contains("127.0.0.1:" + third + " " + c.pid());
            awaitArrival(target, 2);
            assertThat(log(name, 3)).doesNotContain("already runs");
            if (redis) {
                // Redis has no session to end with the process: the claim of a dead process on this host is taken over, not waited out
                assertThat(log(name, 3)).contains("took over migration " + name + "'s claim from a worker that is gone (pid " + a.pid());
            }
            System.out.printf("%s: caught up again %d ms after the restart that followed kill -9%n", name,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));

            // a clean stop removes the registration; status then reads the durable state
            c.destroy(); // SIGTERM
            assertThat(c.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(c.exitValue()).as(log(name, 3)).isZero();
            assertThat(target.registration()).as("registration after a clean stop").isEmpty();
            assertThat(CliRun.of("status", p, "-o", "json").json().at("/worker/running").asBoolean()).isFalse();
            assertThat(CliRun.of("pause", p).exit()).as("no worker to pause").isEqualTo(6);
        } finally {
            for (Process process : new Process[] {a, b, c}) {
                if (process != null) {
                    process.destroyForcibly().waitFor();
                }
            }
        }
    }

    /**
     * The session holding a PostgreSQL worker's claim ends (as in a failover) and another session takes the lock before
     * the worker can claim again: the worker stops with exit 4 and writes nothing (the state stays STREAMING). When the
     * session ends with no one else waiting, the worker claims again and keeps running.
     */
    private void lostClaim(Path plan, String name, SandboxEndpoint target, String db) throws Exception {
        String p = plan.toString();
        Process worker = start(p, freePort(), "claim-" + name + "-4.log");
        String holder = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = " + 0x6D696772
                + " AND objid = hashtext('migrator:" + name + "')::oid AND objsubid = 2";
        try (Connection c = DriverManager.getConnection(target.jdbcUrl(db), target.user(), target.password()); Statement st = c.createStatement()) {
            CliRun running = CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "120s");
            assertThat(running.exit()).as(running.err() + log(name, 4)).isZero();
            long first = longOf(st, holder);
            st.execute("SELECT pg_terminate_backend(" + first + ")");
            long deadline = System.currentTimeMillis() + 30_000;
            while (System.currentTimeMillis() < deadline && !log(name, 4).contains("claimed migration " + name + " again")) {
                Thread.sleep(200);
            }
            assertThat(log(name, 4)).contains("claimed migration " + name + " again");
            long second = longOf(st, holder);
            assertThat(second).as("a new session holds the claim").isNotEqualTo(first);
            assertThat(worker.isAlive()).isTrue();

            st.execute("SELECT pg_terminate_backend(" + second + ")");
            st.execute("SELECT pg_advisory_lock(" + 0x6D696772 + ", hashtext('migrator:" + name + "'))"); // another "worker" gets there first
            assertThat(worker.waitFor(60, TimeUnit.SECONDS)).as(log(name, 4)).isTrue();
            assertThat(worker.exitValue()).as(log(name, 4)).isEqualTo(4);
            try (ResultSet rs = st.executeQuery("SELECT phase FROM migrator.state WHERE migration = '" + name + "'")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).as("the stopped worker wrote no FAILED over the new holder's state").isEqualTo("STREAMING");
            }
            st.execute("SELECT pg_advisory_unlock_all()");
        } finally {
            worker.destroyForcibly().waitFor();
        }
    }

    /**
     * Another worker takes the migration over (as its claim does: a new token in migrator.worker) while this one runs:
     * this worker's next apply transaction is refused and rolled back, it exits 4, and it writes no FAILED state over the
     * new owner's. A source change made after the takeover does not reach the target through it.
     */
    private void fenced(Path plan, String name, Target t, SandboxEndpoint target, String db) throws Exception {
        String p = plan.toString();
        Process worker = start(p, freePort(), "claim-" + name + "-5.log");
        try (Connection c = DriverManager.getConnection(target.jdbcUrl(db), target.user(), target.password()); Statement st = c.createStatement()) {
            CliRun running = CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "120s");
            assertThat(running.exit()).as(running.err() + log(name, 5)).isZero();
            assertThat(st.executeUpdate("UPDATE migrator.worker SET token = 'taken-over' WHERE migration = '" + name + "'")).isEqualTo(1);
            t.change(5);
            assertThat(worker.waitFor(60, TimeUnit.SECONDS)).as(log(name, 5)).isTrue();
            assertThat(worker.exitValue()).as(log(name, 5)).isEqualTo(4);
            assertThat(log(name, 5)).contains("was claimed by").contains("this worker stops without applying more");
            assertThat(t.arrived(5)).as("the change after the takeover was not applied by the old worker").isFalse();
            try (ResultSet rs = st.executeQuery("SELECT phase FROM migrator.state WHERE migration = '" + name + "'")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).as("no FAILED over the new owner's state").isEqualTo("STREAMING");
            }
        } finally {
            worker.destroyForcibly().waitFor();
        }
    }

    private static long longOf(Statement st, String sql) throws Exception {
        try (ResultSet rs = st.executeQuery(sql)) {
            assertThat(rs.next()).as(sql).isTrue();
            return rs.getLong(1);
        }
    }

    private static void awaitArrival(Target target, int n) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        while (!target.arrived(n) && System.currentTimeMillis() < deadline) {
            Thread.sleep(100);
        }
        assertThat(target.arrived(n)).as("change %d arrived on the target", n).isTrue();
    }

    private static Target sqlTarget(SandboxEndpoint source, SandboxEndpoint target, String db, String name, String table) {
        return new Target() {
            @Override
            public Optional<String> registration() throws Exception {
                try (Connection c = DriverManager.getConnection(target.jdbcUrl(db), target.user(), target.password());
                     PreparedStatement ps = c.prepareStatement("SELECT address, pid FROM migrator.worker WHERE migration = ?")) {
                    ps.setString(1, name);
                    try (ResultSet rs = ps.executeQuery()) {
                        return rs.next() ? Optional.of(rs.getString(1) + " " + rs.getLong(2)) : Optional.empty();
                    }
                }
            }

            @Override
            public void change(int n) throws Exception {
                try (Connection c = DriverManager.getConnection(source.jdbcUrl(db), source.user(), source.password());
                     Statement st = c.createStatement()) {
                    st.executeUpdate("UPDATE " + table + " SET v = 'marker " + n + "' WHERE id = 7");
                }
            }

            @Override
            public boolean arrived(int n) throws Exception {
                try (Connection c = DriverManager.getConnection(target.jdbcUrl(db), target.user(), target.password());
                     Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT v FROM " + table + " WHERE id = 7")) {
                    return rs.next() && ("marker " + n).equals(rs.getString(1));
                }
            }
        };
    }

    private static Path plan(SandboxEndpoint source, SandboxEndpoint target, String engine, String db, String name, String extra)
            throws Exception {
        Path secret = Files.createTempFile(Path.of("target"), "claim-pw-", ".txt").toAbsolutePath();
        Files.writeString(secret, source.password());
        String database = db == null ? "" : ", database: " + db;
        String user = engine.equals("redis") ? "" : "user: " + source.user() + ", ";
        Path plan = Files.createTempFile(Path.of("target"), "claim-", ".yaml");
        Files.writeString(plan, """
                name: %s
                source: {engine: %s, host: %s, port: %d, %spassword: "${file:%s}"%s%s}
                target: {engine: %s, host: %s, port: %d, %spassword: "${file:%s}"%s}
                control: {listen: "127.0.0.1:%d"}
                """.formatted(name, engine, source.host(), source.port(), user, secret, database, extra.isEmpty() ? "" : ", " + extra,
                engine, target.host(), target.port(), user, secret, database, freePort()));
        return plan;
    }

    private static Process start(String plan, int port, String log) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m", "-jar",
                JAR.toString(), "run", plan, "--listen", "127.0.0.1:" + port).redirectErrorStream(true).redirectOutput(new File("target/" + log));
        builder.environment().put("MIGRATOR_STATE_DIR", System.getProperty("migrator.stateDir"));
        return builder.start();
    }

    private static String log(String name, Object n) {
        try {
            return Files.readString(Path.of("target", "claim-" + name + "-" + n + ".log"));
        } catch (java.io.IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private static int freePort() throws Exception {
        try (ServerSocket free = new ServerSocket(0)) {
            return free.getLocalPort();
        }
    }

    private static Jedis jedis(SandboxEndpoint e, int db) {
        Jedis j = new Jedis(e.host(), e.port(), 30_000);
        j.auth(e.password());
        j.select(db);
        return j;
    }
}
