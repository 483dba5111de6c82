package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * PostgreSQL → PostgreSQL: the worker ({@code java -Xmx512m -jar migrator.jar run}) is killed with SIGKILL at random
 * moments of snapshot, catch-up and streaming while a pgbench-like writer changes the source (transfers, updates that
 * leave a toasted column unchanged, deletes, primary-key changes, a hot row). After the last restart and a SIGTERM
 * (exit 0) every table equals the source row for row, and the slot has confirmed no more than the target committed.
 * {@code -Dmigrator.kills=N} sets the number of kills (default 6).
 */
@ExtendWith(SandboxExtension.class)
class PostgresKillRestartIT {

    private SandboxEndpoint source;
    private SandboxEndpoint target;
    private String db;
    private String name;

    private Connection src() throws SQLException {
        return DriverManager.getConnection(source.jdbcUrl(db), source.user(), source.password());
    }

    private Connection tgt() throws SQLException {
        return DriverManager.getConnection(target.jdbcUrl(db), target.user(), target.password());
    }

    @Test
    void killNineAtRandomMomentsLosesNothingAndDuplicatesNothing(SandboxServers servers) throws Exception {
        assertThat(KillLoop.JAR).as("the shaded jar is built in the package phase").exists();
        source = servers.postgresSource();
        target = servers.postgresTarget();
        db = "pgkill_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        name = db.replace('_', '-');
        for (SandboxEndpoint e : List.of(source, target)) {
            try (Connection c = DriverManager.getConnection(e.jdbcUrl("postgres"), e.user(), e.password()); Statement st = c.createStatement()) {
                st.execute("CREATE DATABASE " + db);
            }
        }
        try (Connection c = src(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84), doc text)");
            st.execute("INSERT INTO accounts SELECT g, g % 10, 0, 'f', CASE WHEN g % 50 = 0 THEN "
                    + "(SELECT string_agg(md5(g::text || i), '') FROM generate_series(1, 120) i) END FROM generate_series(1, 400000) g");
            st.execute("CREATE TABLE history (id bigserial PRIMARY KEY, aid int NOT NULL, delta int NOT NULL, at timestamptz NOT NULL DEFAULT now())");
            st.execute("CREATE TABLE \"Tag Set\" (k text, n int, note text, PRIMARY KEY (k, n))");
            st.execute("INSERT INTO \"Tag Set\" SELECT 'k' || (g % 97), g, repeat('x', g % 300) FROM generate_series(1, 60000) g");
            // no primary key: the REPLICA IDENTITY index carries the rows
            st.execute("CREATE TABLE codes (code text NOT NULL, region int NOT NULL, qty int, CONSTRAINT by_code UNIQUE (region, code))");
            st.execute("ALTER TABLE codes REPLICA IDENTITY USING INDEX by_code");
            st.execute("INSERT INTO codes SELECT 'c' || g, g % 10, g % 7 FROM generate_series(1, 40000) g");
            st.execute("ANALYZE");
        }
        Path plan = Files.createTempFile(Path.of("target"), "pgkill-", ".yaml");
        Files.writeString(plan, """
                name: %s
                source: {engine: postgresql, host: %s, port: %d, user: %s, password: "${env:KILL_IT_PW}", database: %s}
                target: {engine: postgresql, host: %s, port: %d, user: %s, password: "${env:KILL_IT_PW}", database: %s}
                snapshot: {parallelism: 2, chunkRows: 5000, maxRowsPerSecond: 60000}
                """.formatted(name, source.host(), source.port(), source.user(), db, target.host(), target.port(), target.user(), db));

        AtomicBoolean stopWriter = new AtomicBoolean();
        AtomicReference<Throwable> writerError = new AtomicReference<>();
        AtomicLong writes = new AtomicLong();
        Thread writer = new Thread(() -> write(stopWriter, writes, writerError), "writer");
        writer.start();

        int kills = Integer.getInteger("migrator.kills", 6);
        Random random = new Random(Long.getLong("migrator.seed", System.nanoTime()));
        KillLoop loop = new KillLoop("pgkill", Map.of("KILL_IT_PW", source.password(),
                "MIGRATOR_STATE_DIR", System.getProperty("migrator.stateDir")), this::phase);
        try {
            loop.kill(plan, kills, random, (worker, i) -> i < 2 ? loop.untilPast(worker, "PREFLIGHT", "SCHEMA") // the first two in the copy
                    : i == kills - 1 ? loop.untilPast(worker, "PREFLIGHT", "SCHEMA", "SNAPSHOT", "CATCH_UP") // the last one streaming
                    : loop.untilPast(worker, "PREFLIGHT", "SCHEMA", "SNAPSHOT"));
            stopWriter.set(true);
            writer.join();
            assertThat(writerError.get()).isNull();

            long goal = currentLsn();
            loop.finish(plan, kills, () -> caughtUp(goal), Long.toString(goal));

            assertThat(writes.get()).isGreaterThan(300);
            assertThat(loop.phasesKilledIn).as("kill points: %s", loop.log).contains("SNAPSHOT", "STREAMING");
            assertSame("accounts", "aid", loop.log);
            assertSame("history", "id", loop.log);
            assertSame("\"Tag Set\"", "k, n", loop.log);
            assertSame("codes", "region, code", loop.log);
            assertThat(confirmedNotBeyondCheckpoint()).as("the slot confirmed only what the target committed").isTrue();

            // complete: the slot (and the WAL it holds), the publication and the bookkeeping go; the tables stay
            ProcessBuilder completing = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                    KillLoop.JAR.toString(), "complete", plan.toString(), "-o", "json").redirectErrorStream(true)
                    .redirectOutput(new File("target/pgkill-complete.log"));
            completing.environment().put("KILL_IT_PW", source.password());
            Process complete = completing.start();
            complete.getOutputStream().close();
            assertThat(complete.waitFor(60, TimeUnit.SECONDS)).isTrue();
            String report = Files.readString(Path.of("target/pgkill-complete.log"));
            assertThat(complete.exitValue()).as(report).isZero();
            assertThat(report).containsPattern("\"ok\"\\s*:\\s*true").contains("replication slot").contains("publication")
                    .contains("schema migrator");
            try (Connection c = src(); Statement st = c.createStatement()) {
                ResultSet rs = st.executeQuery("SELECT (SELECT count(*) FROM pg_replication_slots WHERE database = '" + db + "'), "
                        + "(SELECT count(*) FROM pg_publication)");
                rs.next();
                assertThat(rs.getInt(1)).as("slots left").isZero();
                assertThat(rs.getInt(2)).as("publications left").isZero();
            }
            try (Connection c = tgt(); Statement st = c.createStatement()) {
                ResultSet rs = st.executeQuery("SELECT to_regnamespace('migrator') IS NULL, (SELECT count(*) FROM accounts)");
                rs.next();
                assertThat(rs.getBoolean(1)).as("the bookkeeping schema is gone").isTrue();
                assertThat(rs.getLong(2)).as("the migrated rows stay").isGreaterThan(300_000);
            }
        } finally {
            stopWriter.set(true);
            writer.join(10_000);
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

    private void write(AtomicBoolean stop, AtomicLong writes, AtomicReference<Throwable> error) {
        Random random = new Random();
        try (Connection c = src()) {
            PreparedStatement transfer = c.prepareStatement("UPDATE accounts SET abalance = abalance + ? WHERE aid = ?");
            PreparedStatement history = c.prepareStatement("INSERT INTO history (aid, delta) VALUES (?, ?)");
            PreparedStatement insert = c.prepareStatement("INSERT INTO accounts VALUES (?, 1, 0, 'new', repeat(md5(random()::text), 100)) "
                    + "ON CONFLICT (aid) DO UPDATE SET filler = 'again'");
            PreparedStatement delete = c.prepareStatement("DELETE FROM accounts WHERE aid = ?");
            PreparedStatement rekey = c.prepareStatement("UPDATE accounts SET aid = aid + 1000000 WHERE aid = ? AND aid < 1000000 "
                    + "AND NOT EXISTS (SELECT 1 FROM accounts WHERE aid = ? + 1000000)");
            PreparedStatement tags = c.prepareStatement("UPDATE \"Tag Set\" SET n = n + 1000000 WHERE k = ? AND n = ?");
            PreparedStatement hot = c.prepareStatement("UPDATE accounts SET abalance = abalance + 1 WHERE aid = 50");
            List<PreparedStatement> codes = List.of(c.prepareStatement("UPDATE codes SET qty = qty + 1 WHERE region = ? AND code = ?"),
                    c.prepareStatement("UPDATE codes SET code = code || 'x' WHERE region = ? AND code = ? "
                            + "AND NOT EXISTS (SELECT 1 FROM codes n WHERE n.region = codes.region AND n.code = codes.code || 'x')"),
                    c.prepareStatement("DELETE FROM codes WHERE region = ? AND code = ?"),
                    c.prepareStatement("INSERT INTO codes VALUES (? || 'n', ?, 1) ON CONFLICT DO NOTHING"));
            while (!stop.get()) {
                int g = 1 + random.nextInt(40_000);
                PreparedStatement code = codes.get(random.nextInt(codes.size()));
                boolean insertCode = code == codes.get(3);
                code.setObject(1, insertCode ? "c" + g : g % 10);
                code.setObject(2, insertCode ? g % 10 : "c" + g);
                code.executeUpdate();
                c.setAutoCommit(false);
                int a = 1 + random.nextInt(400_000);
                int b = 1 + random.nextInt(400_000);
                transfer.setInt(1, -5);
                transfer.setInt(2, a);
                transfer.executeUpdate();
                transfer.setInt(1, 5);
                transfer.setInt(2, b);
                transfer.executeUpdate();
                history.setInt(1, a);
                history.setInt(2, -5);
                history.executeUpdate();
                c.commit();
                c.setAutoCommit(true);
                switch (random.nextInt(5)) {
                    case 0 -> {
                        insert.setInt(1, 400_000 + random.nextInt(50_000));
                        insert.executeUpdate();
                    }
                    case 1 -> {
                        delete.setInt(1, 1 + random.nextInt(410_000));
                        delete.executeUpdate();
                    }
                    case 2 -> {
                        int aid = 50 * (1 + random.nextInt(8_000)); // a row with a toasted doc: the new key needs its value
                        rekey.setInt(1, aid);
                        rekey.setInt(2, aid);
                        rekey.executeUpdate();
                        int n = 1 + random.nextInt(60_000);
                        tags.setString(1, "k" + n % 97);
                        tags.setInt(2, n);
                        tags.executeUpdate();
                    }
                    default -> hot.executeUpdate(); // leaves the toasted doc of row 50 unchanged
                }
                writes.incrementAndGet();
                Thread.sleep(2);
            }
        } catch (Throwable e) {
            error.set(e);
        }
    }

    private String phase() {
        try (Connection c = tgt(); PreparedStatement ps = c.prepareStatement("SELECT phase FROM migrator.state WHERE migration = ?")) {
            ps.setString(1, name);
            ResultSet rs = ps.executeQuery();
            return rs.next() ? rs.getString(1) : "PREFLIGHT";
        } catch (SQLException e) {
            return "PREFLIGHT"; // no bookkeeping yet
        }
    }

    private long currentLsn() throws SQLException {
        try (Connection c = src(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private long checkpointLsn() throws SQLException {
        try (Connection c = tgt(); PreparedStatement ps = c.prepareStatement(
                "SELECT GREATEST((position::json->>'lsn_commit')::bigint, (position::json->>'lsn_proc')::bigint, (position::json->>'lsn')::bigint) "
                        + "FROM migrator.checkpoint WHERE migration = ?")) {
            ps.setString(1, name);
            ResultSet rs = ps.executeQuery();
            return rs.next() ? rs.getLong(1) : -1;
        }
    }

    private boolean caughtUp(long goal) {
        try {
            return checkpointLsn() >= goal;
        } catch (SQLException e) {
            return false;
        }
    }

    private boolean confirmedNotBeyondCheckpoint() throws SQLException {
        long checkpoint = checkpointLsn();
        try (Connection c = src(); PreparedStatement ps = c.prepareStatement(
                "SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE database = ?")) {
            ps.setString(1, db);
            ResultSet rs = ps.executeQuery();
            assertThat(rs.next()).as("the slot exists").isTrue();
            return rs.getLong(1) <= checkpoint;
        }
    }

    private void assertSame(String table, String key, List<String> log) throws SQLException {
        try (Connection s = src(); Connection t = tgt()) {
            List<String> sourceRows = rows(s, table, key);
            List<String> targetRows = rows(t, table, key);
            Set<String> missing = new LinkedHashSet<>(sourceRows);
            targetRows.forEach(missing::remove);
            Set<String> extra = new LinkedHashSet<>(targetRows);
            sourceRows.forEach(extra::remove);
            assertThat(extra).as("%s: rows only on the target (kills: %s)", table, log).isEmpty();
            assertThat(missing).as("%s: rows only on the source (kills: %s)", table, log).isEmpty();
            assertThat(targetRows).as(table).containsExactlyElementsOf(sourceRows);
        }
    }

    private static List<String> rows(Connection c, String table, String key) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT t::text FROM " + table + " t ORDER BY " + key)) {
            while (rs.next()) {
                rows.add(rs.getString(1));
            }
        }
        return rows;
    }
}
