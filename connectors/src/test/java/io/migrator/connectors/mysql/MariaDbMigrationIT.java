package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** A live MariaDB database moves into another one while a writer changes it; afterwards both hold the same rows. */
@ExtendWith(SandboxExtension.class)
class MariaDbMigrationIT {
    private static final Map<String, String> TABLES = Map.of(
            "orders", "id",
            "line items", "order_id, line",
            "skus", "sku");
    private MariaDbFixture fixture;

    @AfterEach
    void dropDatabases() {
        if (fixture != null) {
            fixture.drop();
        }
    }

    private void createAndSeed() throws SQLException {
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer VARCHAR(40) NOT NULL, "
                    + "amount DECIMAL(12,2), note TEXT, updated DATETIME(6), total DECIMAL(14,2) AS (amount * 2) PERSISTENT, "
                    + "KEY by_customer (customer))");
            st.execute("CREATE TABLE `line items` (order_id INT NOT NULL, line INT NOT NULL, sku VARCHAR(20), qty INT, "
                    + "PRIMARY KEY (order_id, line))");
            st.execute("CREATE TABLE skus (sku VARCHAR(32) NOT NULL PRIMARY KEY, price DECIMAL(65,30), tags SET('a','b','c'), "
                    + "kind ENUM('x','y'), doc JSON, bits BIT(64), ts TIMESTAMP(6) NULL, img BLOB, f DOUBLE, d DATE, t TIME(6), y YEAR, "
                    + "label VARCHAR(50) CHARACTER SET utf8mb4)");
            st.execute("INSERT INTO orders (customer, amount, note, updated) SELECT CONCAT('c', seq % 500), seq / 7, "
                    + "REPEAT('n', seq % 50), '2024-01-01 00:00:00.123456' + INTERVAL seq SECOND FROM seq_1_to_20000");
            st.execute("INSERT INTO `line items` SELECT seq DIV 4 + 1, seq % 4, CONCAT('sku', seq % 300), seq % 9 FROM seq_0_to_7999");
            st.execute("INSERT INTO skus SELECT CONCAT('sku', seq), seq * 1.000000000000000000000000000001, "
                    + "ELT(seq % 3 + 1, 'a', 'a,b', 'a,b,c'), IF(seq % 2, 'x', 'y'), JSON_OBJECT('n', seq, 'name', 'ü🛒'), "
                    + "CAST(seq * 1234567 AS UNSIGNED), '2024-06-01 12:00:00.654321' + INTERVAL seq MINUTE, UNHEX(REPEAT('00FF', seq % 5)), "
                    + "seq / 3, '2024-02-29' + INTERVAL seq DAY, SEC_TO_TIME(seq * 7.5), 1901 + seq % 200, "
                    + "IF(seq % 10 = 0, '', IF(seq % 10 = 1, NULL, CONCAT('label ', seq))) FROM seq_0_to_299");
        }
    }

    /** Inserts, updates, deletes, primary-key changes, multi-statement transactions and one hot row, until stopped. */
    private Thread writer(AtomicBoolean stop, AtomicLong writes, AtomicReference<Throwable> error) {
        Thread t = new Thread(() -> {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            try (Connection c = fixture.source()) {
                PreparedStatement insert = c.prepareStatement("INSERT INTO orders (customer, amount, note, updated) VALUES (?, ?, ?, NOW(6))");
                PreparedStatement update = c.prepareStatement("UPDATE orders SET amount = amount + 1, note = CONCAT(COALESCE(note, ''), 'u') WHERE id = ?");
                PreparedStatement delete = c.prepareStatement("DELETE FROM orders WHERE id = ?");
                PreparedStatement hot = c.prepareStatement("UPDATE skus SET price = price + 0.000000000000000000000000000001, f = f + 0.5 WHERE sku = 'sku7'");
                PreparedStatement move = c.prepareStatement("UPDATE `line items` SET line = line + 100 WHERE order_id = ? AND line = ?");
                while (!stop.get()) {
                    int op = random.nextInt(10);
                    long id = random.nextLong(1, 20_000);
                    switch (op) {
                        case 0, 1 -> {
                            insert.setString(1, "w" + random.nextInt(100));
                            insert.setBigDecimal(2, java.math.BigDecimal.valueOf(random.nextInt(100000), 2));
                            insert.setString(3, random.nextBoolean() ? null : "");
                            insert.executeUpdate();
                        }
                        case 2, 3 -> {
                            update.setLong(1, id);
                            update.executeUpdate();
                        }
                        case 4 -> {
                            delete.setLong(1, id);
                            delete.executeUpdate();
                        }
                        case 5 -> {
                            move.setInt(1, random.nextInt(1, 2000));
                            move.setInt(2, random.nextInt(4));
                            move.executeUpdate();
                        }
                        case 6 -> {
                            c.setAutoCommit(false);
                            update.setLong(1, id);
                            update.executeUpdate();
                            insert.setString(1, "tx");
                            insert.setBigDecimal(2, java.math.BigDecimal.ONE);
                            insert.setString(3, "in a transaction");
                            insert.executeUpdate();
                            delete.setLong(1, id + 1);
                            delete.executeUpdate();
                            if (random.nextInt(4) == 0) {
                                c.rollback();
                            } else {
                                c.commit();
                            }
                            c.setAutoCommit(true);
                        }
                        default -> hot.executeUpdate();
                    }
                    writes.incrementAndGet();
                    if (random.nextInt(50) == 0) {
                        Thread.sleep(1);
                    }
                }
            } catch (Throwable e) {
                error.set(e);
            }
        }, "background-writer");
        t.start();
        return t;
    }

    private void assertTablesEqual() throws SQLException {
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            for (var table : TABLES.entrySet()) {
                String order = java.util.Arrays.stream(table.getValue().split(", ")).map(k -> "`" + k + "`").reduce((a, b) -> a + ", " + b).orElseThrow();
                List<List<String>> sourceRows = MariaDbFixture.rows(s, table.getKey(), order);
                List<List<String>> targetRows = MariaDbFixture.rows(t, table.getKey(), order);
                assertThat(targetRows).as("table %s: %d source rows", table.getKey(), sourceRows.size()).hasSameSizeAs(sourceRows);
                assertThat(targetRows).as("table %s", table.getKey()).containsExactlyElementsOf(sourceRows);
            }
        }
    }

    @Test
    void copiesAndStreamsUnderWriteLoadAndEndsIdentical(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "mig");
        createAndSeed();
        Plan plan = fixture.plan("snapshot: {parallelism: 3, chunkRows: 1000, maxSourceThreadsRunning: 64}");
        AtomicBoolean writerStop = new AtomicBoolean();
        AtomicLong writes = new AtomicLong();
        AtomicReference<Throwable> writerError = new AtomicReference<>();
        Thread writer = writer(writerStop, writes, writerError);
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            Thread.sleep(3000);
            writerStop.set(true);
            writer.join();
            assertThat(writerError.get()).as("writer error").isNull();
            assertThat(writes.get()).isGreaterThan(100);
            run.awaitCaughtUp();
            assertTablesEqual();
            try (Connection t = fixture.target(); Statement st = t.createStatement();
                 java.sql.ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
                         + "AND TABLE_NAME = 'orders' AND INDEX_NAME = 'by_customer'")) {
                rs.next();
                assertThat(rs.getInt(1)).as("the secondary index left out for the copy is built afterwards").isEqualTo(1);
            }
            MigrationStatus status = run.migration.status();
            assertThat(status.snapshot().rowsCopied()).isGreaterThanOrEqualTo(20_000 + 8_000 + 300);
            assertThat(status.applied().events()).isGreaterThan(0);
            io.migrator.connectors.debezium.DebeziumMeters.assertLastEventNotRenderedBy("MariaDbConnectorTask");
        } finally {
            writerStop.set(true);
        }
    }
}
