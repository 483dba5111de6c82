package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import io.migrator.sandbox.SandboxEngine;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * An index build whose connection was cut goes on in the server (found by bench/soak.sh): the retry's ALTER waits for the
 * table behind it and then meets an index of the same name. Here the earlier attempt is an ALTER still running on
 * another connection when the deferred build starts: the build waits, reads the target's indexes again, adds only what
 * is still missing and ends with every index of the source — it used to stop the worker with "Duplicate key name".
 */
@ExtendWith(SandboxExtension.class)
@Timeout(180)
class MariaDbIndexRaceIT {
    private MariaDbFixture fixture;

    @AfterEach
    void cleanUp() {
        if (fixture != null) {
            fixture.drop();
        }
    }

    @Test
    void aBuildRacingAnEarlierAttemptsAlterEndsWithEveryIndex(SandboxServers servers) throws Exception {
        servers.sandbox().up(java.util.EnumSet.of(SandboxEngine.MARIADB), false);
        fixture = new MariaDbFixture(servers, "idxrace");
        String columns = "id BIGINT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL";
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE sbtest (" + columns + ", KEY k_1 (k), KEY c_1 (c))");
        }
        try (Connection c = MariaDbFixture.connect(fixture.target); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE `" + fixture.database + "`");
        }
        try (Connection c = fixture.target(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE sbtest (" + columns + ")"); // as the copy leaves it: secondary indexes deferred
            st.execute("INSERT INTO sbtest SELECT seq, seq % 1000, REPEAT(CHAR(65 + seq % 26), 120), 'p' FROM seq_1_to_400000");
        }
        Plan plan = fixture.plan("");
        TableDef table = new MySqlSource(plan).tables(plan.tables()).get(0);
        MySqlTarget target = new MySqlTarget(plan);
        try (Connection earlier = fixture.target(); Statement st = earlier.createStatement()) {
            // the earlier attempt: the same ALTER, still running when the retry comes
            CompletableFuture<Void> first = CompletableFuture.runAsync(() -> {
                try {
                    st.execute("ALTER TABLE sbtest ADD KEY k_1 (k), ADD KEY c_1 (c)");
                } catch (java.sql.SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(300);
            assertThat(first).as("the earlier ALTER is still running (else this test shows nothing)").isNotDone();
            target.buildDeferredIndexes(table);
            first.get(60, TimeUnit.SECONDS);
        } finally {
            target.close();
        }
        try (Connection c = fixture.target(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
                     + "AND TABLE_NAME = 'sbtest' ORDER BY 1")) {
            List<String> names = new ArrayList<>();
            while (rs.next()) {
                names.add(rs.getString(1));
            }
            assertThat(names).containsExactly("c_1", "k_1", "PRIMARY");
        }
    }
}
