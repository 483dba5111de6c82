package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The worker ({@code java -Xmx512m -jar migrator.jar run}) is killed with SIGKILL at random moments of
 * snapshot, catch-up and streaming while a writer changes the source; after the last restart and a
 * SIGTERM (exit 0), every table equals the source row for row: nothing lost, nothing duplicated.
 * {@code -Dmigrator.kills=N} sets the number of kills (default 6; the soak in docs/benchmarks.md uses more).
 */
@ExtendWith(SandboxExtension.class)
class MariaDbKillRestartIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SandboxEndpoint source;
    private SandboxEndpoint target;
    private String db;

    private Connection src() throws SQLException {
        return DriverManager.getConnection(source.jdbcUrl(db), source.user(), source.password());
    }

    private Connection tgt() throws SQLException {
        return DriverManager.getConnection(target.jdbcUrl(""), target.user(), target.password());
    }

    @Test
    void killNineAtRandomMomentsLosesNothingAndDuplicatesNothing(SandboxServers servers) throws Exception {
        assertThat(KillLoop.JAR).as("the shaded jar is built in the package phase").exists();
        source = servers.mariadbSource();
        target = servers.mariadbTarget();
        db = "kill_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        try (Connection c = DriverManager.getConnection(source.jdbcUrl(""), source.user(), source.password()); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + db);
            st.execute("USE " + db);
            st.execute("CREATE TABLE " + db + ".accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL, owner VARCHAR(40), "
                    + "blob_col VARBINARY(64), KEY by_owner (owner))");
            st.execute("INSERT INTO " + db + ".accounts SELECT seq, seq * 10, CONCAT('owner-', seq % 1000), UNHEX(MD5(seq)) FROM seq_1_to_300000");
            st.execute("CREATE TABLE " + db + ".events (pk1 VARCHAR(16) NOT NULL, pk2 INT NOT NULL, payload TEXT, PRIMARY KEY (pk1, pk2))");
            st.execute("INSERT INTO " + db + ".events SELECT CONCAT('k', seq % 97), seq, REPEAT('x', seq % 300) FROM seq_1_to_60000");
            // no primary key: a unique index over NOT NULL columns carries the rows
            st.execute("CREATE TABLE " + db + ".codes (code VARCHAR(20) NOT NULL, region INT NOT NULL, qty INT, UNIQUE KEY by_code (region, code))");
            st.execute("INSERT INTO " + db + ".codes SELECT CONCAT('c', seq), seq % 10, seq % 7 FROM seq_1_to_40000");
        }
        Path plan = Files.createTempFile(Path.of("target"), "kill-", ".yaml");
        Files.writeString(plan, """
                name: %s
                source: {engine: mariadb, host: %s, port: %d, user: %s, password: "${env:KILL_IT_PW}", database: %s}
                target: {engine: mariadb, host: %s, port: %d, user: %s, password: "${env:KILL_IT_PW}", database: %s}
                snapshot: {parallelism: 2, chunkRows: 5000, maxRowsPerSecond: 50000}
                """.formatted(db.replace('_', '-'), source.host(), source.port(), source.user(), db, target.host(), target.port(),
                target.user(), db));

        AtomicBoolean stopWriter = new AtomicBoolean();
        AtomicReference<Throwable> writerError = new AtomicReference<>();
        AtomicLong writes = new AtomicLong();
        Thread writer = new Thread(() -> write(stopWriter, writes, writerError), "writer");
        writer.start();

        int kills = Integer.getInteger("migrator.kills", 6);
        Random random = new Random(Long.getLong("migrator.seed", System.nanoTime()));
        KillLoop loop = new KillLoop("kill", Map.of("KILL_IT_PW", source.password(),
                "MIGRATOR_STATE_DIR", System.getProperty("migrator.stateDir")), this::phase);
        try {
            loop.kill(plan, kills, random, (worker, i) -> i < 2 ? loop.untilPast(worker, "PREFLIGHT", "SCHEMA") // the first two in the copy
                    : i == kills - 1 ? loop.untilPast(worker, "PREFLIGHT", "SCHEMA", "SNAPSHOT", "CATCH_UP") // the last one streaming
                    : loop.untilPast(worker, "PREFLIGHT", "SCHEMA", "SNAPSHOT"));
            stopWriter.set(true);
            writer.join();
            assertThat(writerError.get()).isNull();

            String goal = sourcePosition();
            loop.finish(plan, kills, () -> caughtUp(goal), goal);

            assertThat(writes.get()).isGreaterThan(500);
            assertThat(loop.phasesKilledIn).as("kill points: %s", loop.log).contains("SNAPSHOT", "STREAMING");
            this.log = loop.log;
            assertSame("accounts", "id");
            assertSame("events", "pk1, pk2");
            assertSame("codes", "region, code");
        } finally {
            stopWriter.set(true);
            try (Connection c = DriverManager.getConnection(source.jdbcUrl(""), source.user(), source.password());
                 Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + db);
            }
            try (Connection c = tgt(); Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + db);
            }
        }
    }

    private void write(AtomicBoolean stop, AtomicLong writes, AtomicReference<Throwable> error) {
        Random random = new Random();
        try (Connection c = src()) {
            PreparedStatement transfer = c.prepareStatement("UPDATE accounts SET balance = balance + ? WHERE id = ?");
            PreparedStatement insert = c.prepareStatement("INSERT INTO accounts VALUES (?, 0, 'new', NULL) ON DUPLICATE KEY UPDATE owner = 'again'");
            PreparedStatement delete = c.prepareStatement("DELETE FROM accounts WHERE id = ?");
            PreparedStatement rekey = c.prepareStatement("UPDATE IGNORE events SET pk2 = pk2 + 1000000 WHERE pk1 = ? AND pk2 = ?");
            PreparedStatement hot = c.prepareStatement("UPDATE accounts SET balance = balance + 1 WHERE id = 1");
            List<PreparedStatement> codes = List.of(c.prepareStatement("UPDATE codes SET qty = qty + 1 WHERE region = ? AND code = ?"),
                    c.prepareStatement("UPDATE IGNORE codes SET code = CONCAT(code, 'x') WHERE region = ? AND code = ?"),
                    c.prepareStatement("DELETE FROM codes WHERE region = ? AND code = ?"),
                    c.prepareStatement("INSERT IGNORE INTO codes VALUES (CONCAT(?, 'n'), ?, 1)"));
            while (!stop.get()) {
                int g = 1 + random.nextInt(40_000);
                PreparedStatement code = codes.get(random.nextInt(codes.size()));
                boolean insertCode = code == codes.get(3);
                code.setObject(1, insertCode ? "c" + g : g % 10);
                code.setObject(2, insertCode ? g % 10 : "c" + g);
                code.executeUpdate();
                c.setAutoCommit(false);
                int a = 1 + random.nextInt(300_000);
                int b = 1 + random.nextInt(300_000);
                transfer.setLong(1, -5);
                transfer.setInt(2, a);
                transfer.executeUpdate();
                transfer.setLong(1, 5);
                transfer.setInt(2, b);
                transfer.executeUpdate();
                c.commit();
                c.setAutoCommit(true);
                switch (random.nextInt(5)) {
                    case 0 -> {
                        insert.setInt(1, 300_000 + random.nextInt(50_000));
                        insert.executeUpdate();
                    }
                    case 1 -> {
                        delete.setInt(1, 1 + random.nextInt(310_000));
                        delete.executeUpdate();
                    }
                    case 2 -> {
                        int pk2 = 1 + random.nextInt(60_000);
                        rekey.setString(1, "k" + pk2 % 97);
                        rekey.setInt(2, pk2);
                        rekey.executeUpdate();
                    }
                    default -> hot.executeUpdate();
                }
                writes.incrementAndGet();
                Thread.sleep(2);
            }
        } catch (Throwable e) {
            error.set(e);
        }
    }

    private String phase() throws SQLException {
        try (Connection c = tgt(); Statement st = c.createStatement()) {
            ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'migrator' AND TABLE_NAME = 'state'");
            rs.next();
            if (rs.getInt(1) == 0) {
                return "PREFLIGHT";
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT phase FROM migrator.state WHERE migration = ?")) {
                ps.setString(1, db.replace('_', '-'));
                ResultSet phase = ps.executeQuery();
                return phase.next() ? phase.getString(1) : "PREFLIGHT";
            }
        }
    }

    private String sourcePosition() throws SQLException {
        try (Connection c = src(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SHOW MASTER STATUS")) {
            rs.next();
            return rs.getString(1) + ":" + rs.getLong(2);
        }
    }

    private boolean caughtUp(String goal) throws Exception {
        try (Connection c = tgt(); PreparedStatement ps = c.prepareStatement("SELECT position FROM migrator.checkpoint WHERE migration = ?")) {
            ps.setString(1, db.replace('_', '-'));
            ResultSet rs = ps.executeQuery();
            if (!rs.next()) {
                return false;
            }
            JsonNode position = JSON.readTree(rs.getString(1));
            String[] g = goal.split(":");
            int file = position.get("file").asText().compareTo(g[0]);
            return file > 0 || file == 0 && position.get("pos").asLong() >= Long.parseLong(g[1]);
        } catch (SQLException e) {
            return false;
        }
    }

    private List<String> log = List.of();

    private void assertSame(String table, String key) throws SQLException {
        try (Connection s = src(); Connection t = tgt()) {
            List<String> sourceRows = rows(s, db + "." + table, key);
            List<String> targetRows = rows(t, db + "." + table, key);
            java.util.Set<String> missing = new java.util.LinkedHashSet<>(sourceRows);
            targetRows.forEach(missing::remove);
            java.util.Set<String> extra = new java.util.LinkedHashSet<>(targetRows);
            sourceRows.forEach(extra::remove);
            assertThat(extra).as("%s: rows only on the target (kills: %s)", table, log).isEmpty();
            assertThat(missing).as("%s: rows only on the source (kills: %s)", table, log).isEmpty();
            assertThat(targetRows).as(table).containsExactlyElementsOf(sourceRows);
        }
    }

    private static List<String> rows(Connection c, String table, String key) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT * FROM " + table + " ORDER BY " + key)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder row = new StringBuilder();
                for (int i = 1; i <= n; i++) {
                    Object v = rs.getObject(i);
                    row.append(v instanceof byte[] b ? HexFormat.of().formatHex(b) : String.valueOf(v)).append('|');
                }
                rows.add(row.toString());
            }
        }
        return rows;
    }
}
