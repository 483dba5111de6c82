package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.error.MigratorException;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Additive DDL on the source reaches the target while streaming; other DDL stops the stream with a remedy. What a
 * statement does is read from the table's definition before and after it (the stream's DDL grammar over a model of the
 * target's tables), never from its text: a comment before DROP COLUMN, CONVERT TO CHARACTER SET or ENGINE= beside ADD
 * COLUMN, ADD PRIMARY KEY, and statements met during catch-up while the source's catalog is already ahead.
 */
class MariaDbDdlIT extends MariaDbFixtureBase {
    private static final String PLAN = "tables: {exclude: [\"scratch*\"]}";

    /** Each column of a table with its type, in order, as information_schema says. */
    private static List<String> columns(Connection c, String table) throws Exception {
        List<String> out = new java.util.ArrayList<>();
        try (java.sql.PreparedStatement ps = c.prepareStatement("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLLATION_NAME FROM "
                + "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION")) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1) + " " + rs.getString(2) + " " + rs.getString(3) + " " + rs.getString(4));
                }
            }
        }
        return out;
    }

    private static String engine(Connection c, String table) throws Exception {
        try (java.sql.PreparedStatement ps = c.prepareStatement("SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                + "AND TABLE_NAME = ?")) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    private void source(String... statements) throws Exception {
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            for (String sql : statements) {
                st.execute(sql);
            }
        }
    }

    /** The statement stops the stream, naming why; the same change made on the target by hand lets the next run go on. */
    private void refusedThenFixedByHand(String statement, String why) throws Exception {
        try (MigrationHarness run = new MigrationHarness(fixture.plan(PLAN))) {
            run.awaitPhase(Phase.STREAMING);
            source(statement);
            Throwable failure = run.awaitFailure();
            assertThat(failure).isInstanceOf(MigratorException.class);
            assertThat(failure.getMessage()).as(statement).contains("does not replay").contains(why);
        }
        try (Connection t = fixture.target(); Statement st = t.createStatement()) {
            st.execute(statement);
        }
    }

    @Test
    void whatAStatementDoesIsReadFromTheDefinitionsNotFromItsText(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "ddljudge");
        source("CREATE TABLE judged (id INT PRIMARY KEY, v VARCHAR(20), n INT) DEFAULT CHARSET=utf8mb4",
                "INSERT INTO judged VALUES (1, 'a', 1), (2, 'b', 2)",
                "CREATE TABLE keyed (k INT NOT NULL, v INT, UNIQUE KEY uk (k))",
                "INSERT INTO keyed VALUES (1, 1)");
        try (MigrationHarness run = new MigrationHarness(fixture.plan(PLAN))) {
            run.awaitPhase(Phase.STREAMING);
            source("ALTER TABLE judged ADD COLUMN x INT NOT NULL DEFAULT 7, ENGINE=MyISAM", // the column, not the engine
                    "INSERT INTO judged VALUES (3, 'c', 3, 30)",
                    "ALTER TABLE judged COMMENT 'only a comment'", // changes no column: not replayed, not refused
                    "/* a comment */ CREATE INDEX by_n ON judged (n)");
            run.awaitCaughtUp();
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                assertThat(columns(t, "judged")).isEqualTo(columns(s, "judged"));
                assertThat(MariaDbFixture.rows(t, "judged", "id")).containsExactlyElementsOf(MariaDbFixture.rows(s, "judged", "id"));
                assertThat(engine(s, "judged")).isEqualTo("MyISAM");
                assertThat(engine(t, "judged")).as("ENGINE= beside ADD COLUMN is not replayed").isEqualTo("InnoDB");
                try (Statement st = t.createStatement(); ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM information_schema.STATISTICS "
                        + "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'judged' AND INDEX_NAME = 'by_n'")) {
                    rs.next();
                    assertThat(rs.getInt(1)).as("CREATE INDEX after a comment").isEqualTo(1);
                }
            }
        }
        // a comment first: the old text patterns took it for housekeeping and dropped the column nowhere
        refusedThenFixedByHand("# tidy up\nALTER TABLE judged DROP COLUMN n", "drops (or renames) column n of judged");
        refusedThenFixedByHand("ALTER TABLE judged ADD COLUMN y VARCHAR(5), CONVERT TO CHARACTER SET latin1", "character set of judged");
        refusedThenFixedByHand("ALTER TABLE keyed ADD PRIMARY KEY (k)", "changes the primary key of keyed");

        // catch-up: statements the stream meets while the source's catalog is already past them
        source("INSERT INTO judged VALUES (4, 'd', 40, 'y4')",
                "ALTER TABLE judged ADD COLUMN a INT",
                "INSERT INTO judged VALUES (5, 'e', 50, 'y5', 5)",
                "ALTER TABLE judged ADD COLUMN b VARCHAR(10) COLLATE latin1_bin AFTER v",
                "INSERT INTO judged VALUES (6, 'f', 'bee', 60, 'y6', 6)",
                "INSERT INTO keyed VALUES (2, 2)");
        try (MigrationHarness again = new MigrationHarness(fixture.plan(PLAN))) {
            again.awaitPhase(Phase.STREAMING);
            again.awaitCaughtUp();
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                assertThat(columns(t, "judged")).as("each column added at its place, with the source's collation")
                        .isEqualTo(columns(s, "judged"));
                assertThat(MariaDbFixture.rows(t, "judged", "id")).containsExactlyElementsOf(MariaDbFixture.rows(s, "judged", "id"));
                assertThat(MariaDbFixture.rows(t, "keyed", "k")).containsExactlyElementsOf(MariaDbFixture.rows(s, "keyed", "k"));
            }
        }
    }

    @Test
    void additiveDdlIsReplayedAndDestructiveDdlStopsTheStream(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "ddl");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE `odd table` (id INT PRIMARY KEY, v VARCHAR(20))");
            st.execute("INSERT INTO `odd table` VALUES (1, 'a'), (2, 'b')");
        }
        try (MigrationHarness run = new MigrationHarness(fixture.plan("tables: {exclude: [\"scratch*\"]}"))) {
            run.awaitPhase(Phase.STREAMING);
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("ALTER TABLE `odd table` ADD COLUMN extra VARCHAR(20) NOT NULL DEFAULT 'd'");
                st.execute("ALTER TABLE `odd table` ADD INDEX by_v (v)");
                st.execute("INSERT INTO `odd table` VALUES (3, 'c', 'given')");
                st.execute("UPDATE `odd table` SET extra = 'changed' WHERE id = 1");
                st.execute("CREATE TABLE added (id INT PRIMARY KEY, x INT)");
                st.execute("INSERT INTO added VALUES (1, 10), (2, 20)");
                st.execute("CREATE TABLE scratch_1 (id INT PRIMARY KEY)");
            }
            run.awaitCaughtUp();
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                assertThat(MariaDbFixture.rows(t, "odd table", "id")).containsExactlyElementsOf(MariaDbFixture.rows(s, "odd table", "id"));
                assertThat(MariaDbFixture.rows(t, "added", "id")).containsExactlyElementsOf(MariaDbFixture.rows(s, "added", "id"));
                assertThat(MariaDbFixture.rows(t, "odd table", "id").get(0)).containsExactly("1", "a", "changed");
                try (Statement st = t.createStatement(); ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM information_schema.STATISTICS "
                        + "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'odd table' AND INDEX_NAME = 'by_v'")) {
                    rs.next();
                    assertThat(rs.getInt(1)).as("index by_v on the target").isEqualTo(1);
                }
                try (Statement st = t.createStatement(); ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM information_schema.TABLES "
                        + "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'scratch_1'")) {
                    rs.next();
                    assertThat(rs.getInt(1)).as("an excluded table is not created").isZero();
                }
            }
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("ALTER TABLE `odd table` DROP COLUMN extra");
            }
            Throwable failure = run.awaitFailure();
            assertThat(failure).isInstanceOf(MigratorException.class);
            assertThat(failure.getMessage()).contains("does not replay").contains("DROP COLUMN extra");
            assertThat(((MigratorException) failure).remedy()).contains("apply the same change to the target by hand");
            assertThat(run.target.loadState().orElseThrow().phase()).isEqualTo(Phase.FAILED);
        }
        // the remedy, followed: the same change on the target, a restart; the stream steps over the statement and goes on
        try (Connection t = fixture.target(); Statement st = t.createStatement()) {
            st.execute("ALTER TABLE `odd table` DROP COLUMN extra");
        }
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("INSERT INTO `odd table` VALUES (4, 'after the fix')");
            st.execute("TRUNCATE TABLE added"); // replayed, not refused
            st.execute("INSERT INTO added VALUES (3, 30)");
        }
        try (MigrationHarness again = new MigrationHarness(fixture.plan("tables: {exclude: [\"scratch*\"]}"))) {
            again.awaitPhase(Phase.STREAMING);
            again.awaitCaughtUp();
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                assertThat(MariaDbFixture.rows(t, "odd table", "id")).containsExactlyElementsOf(MariaDbFixture.rows(s, "odd table", "id"));
                assertThat(MariaDbFixture.rows(t, "added", "id")).containsExactly(List.of("3", "30"));
            }
        }
    }
}
