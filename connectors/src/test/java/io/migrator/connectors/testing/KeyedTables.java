package io.migrator.connectors.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.state.Phase;
import io.migrator.core.state.ValidationReport;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What the tests of tables keyed by a unique index share on every engine: a writer from the copy through streaming, and
 * differences planted on the target that a validation must find by that key and repair must fix.
 */
public final class KeyedTables {
    private KeyedTables() {
    }

    /** One write of the load, on the statements {@link Prepare} made. */
    public interface Step {
        void run(Random random) throws Exception;
    }

    /** Prepares a writer's statements on its connection. */
    public interface Prepare {
        Step on(Connection c) throws SQLException;
    }

    /**
     * Writes a step every 2 ms from the start of the copy until 1.5 s into STREAMING, then waits until the target has
     * caught up; the writer's own failures fail the test.
     */
    public static void writeThroughCopyAndStreaming(MigrationHarness run, Callable<Connection> connect, Prepare prepare) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong writes = new AtomicLong();
        AtomicReference<Throwable> error = new AtomicReference<>();
        Thread writer = new Thread(() -> {
            Random random = new Random();
            try (Connection c = connect.call()) {
                Step step = prepare.on(c);
                while (!stop.get()) {
                    step.run(random);
                    writes.incrementAndGet();
                    Thread.sleep(2);
                }
            } catch (Throwable e) {
                error.set(e);
            }
        }, "writer");
        writer.start();
        try {
            run.awaitPhase(Phase.STREAMING);
            Thread.sleep(1500);
        } finally {
            stop.set(true);
            writer.join(10_000);
        }
        assertThat(error.get()).isNull();
        assertThat(writes.get()).as("writes during the copy and the stream").isGreaterThan(200);
        run.awaitCaughtUp();
    }

    /**
     * A clean validation; then {@code plant} changes the target behind the migration's back and answers the mismatches
     * expected ({@code kind {key} [columns]}); a validation finds exactly those, a repair fixes each, and the next is clean.
     */
    public static void findAndRepair(MigrationHarness run, Callable<List<String>> plant) throws Exception {
        ValidationReport clean = run.migration.validate(List.of(), false);
        assertThat(clean.ok()).as(clean.toString()).isTrue();
        List<String> expected = plant.call();
        ValidationReport found = run.migration.validate(List.of(), false);
        assertThat(found.tables()).flatExtracting(ValidationReport.TableResult::mismatches)
                .extracting(m -> m.kind() + " " + m.key() + " " + m.columns())
                .containsExactlyInAnyOrderElementsOf(expected);
        ValidationReport repaired = run.migration.validate(List.of(), true);
        assertThat(repaired.tables()).flatExtracting(ValidationReport.TableResult::mismatches)
                .allSatisfy(m -> assertThat(m.repaired()).as(m.toString()).isTrue());
        assertThat(run.migration.validate(List.of(), false).ok()).isTrue();
    }

    /**
     * The shared load on the tests' two tables: {@code codes (note, code, region, qty)} keyed by (region, code) and a token
     * table keyed by uid. Each step changes a random seed row of codes by its key (bump, key change, delete) or inserts a
     * new one, then changes a token row's uid (its key; {@code uidParams} placeholders of the uid) or its other unique
     * column ({@code retoken}: a prefix, the uid).
     */
    public static Step codesAndTokens(java.sql.PreparedStatement insert, List<java.sql.PreparedStatement> byKey, java.sql.PreparedStatement reuid,
                                      int uidParams, java.sql.PreparedStatement retoken, java.util.function.IntSupplier... uids) {
        return random -> {
            int g = 1 + random.nextInt(20_000);
            int pick = random.nextInt(byKey.size() + 1);
            java.sql.PreparedStatement codes = pick == byKey.size() ? insert : byKey.get(pick);
            codes.setObject(1, pick == byKey.size() ? "n" + random.nextInt(1_000_000) : g % 10);
            codes.setObject(2, pick == byKey.size() ? random.nextInt(10) : "c" + g);
            codes.executeUpdate();
            int uid = random.nextBoolean() && uids.length > 0 ? uids[0].getAsInt() : 1 + random.nextInt(8_000);
            if (random.nextBoolean()) {
                for (int i = 1; i <= uidParams; i++) {
                    reuid.setInt(i, uid);
                }
                reuid.executeUpdate();
            } else {
                retoken.setString(1, Integer.toString(random.nextInt(1_000_000)));
                retoken.setInt(2, uid);
                retoken.executeUpdate();
            }
        };
    }

    /**
     * Differences planted on the target on rows the writer left as they are (it has stopped): the first two keys of codes
     * (one deleted, one changed), a ghost row, and the lowest uid's {@code valueColumn}; {@code prelude} runs first (a
     * session setting). Answers the mismatches a validation must report.
     */
    public static List<String> plant(Callable<Connection> target, String tokenTable, String valueColumn, String... prelude) throws Exception {
        List<String[]> keys = new java.util.ArrayList<>();
        int uid;
        try (Connection t = target.call(); java.sql.Statement st = t.createStatement()) {
            try (java.sql.ResultSet rs = st.executeQuery("SELECT region, code FROM codes ORDER BY region, code LIMIT 2")) {
                while (rs.next()) {
                    keys.add(new String[] {rs.getString(1), rs.getString(2)});
                }
            }
            try (java.sql.ResultSet rs = st.executeQuery("SELECT MIN(uid) FROM " + tokenTable)) {
                rs.next();
                uid = rs.getInt(1);
            }
            for (String sql : prelude) {
                st.execute(sql);
            }
            st.execute("DELETE FROM codes WHERE region = " + keys.get(0)[0] + " AND code = '" + keys.get(0)[1] + "'");
            st.execute("INSERT INTO codes VALUES (NULL, 'ghost', 3, 1)");
            st.execute("UPDATE codes SET qty = qty + 100 WHERE region = " + keys.get(1)[0] + " AND code = '" + keys.get(1)[1] + "'");
            st.execute("UPDATE " + tokenTable + " SET " + valueColumn + " = 'changed' WHERE uid = " + uid);
        }
        return List.of("missing {region=" + keys.get(0)[0] + ", code=" + keys.get(0)[1] + "} []", "extra {region=3, code=ghost} []",
                "different {region=" + keys.get(1)[0] + ", code=" + keys.get(1)[1] + "} [qty]", "different {uid=" + uid + "} [" + valueColumn + "]");
    }
}
