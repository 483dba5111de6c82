package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Engine;
import io.migrator.core.plan.TableFilter;
import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.DdlJudge.Decision;
import io.migrator.core.spi.DdlJudge.Verdict;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The MySQL/MariaDB DDL judge over definitions as SHOW CREATE TABLE renders them: what a statement does is read from
 * the table before and after it, by the stream's own grammar, never from the statement's text.
 */
class MySqlDdlJudgeTest {
    private static final String JUDGED = """
            CREATE TABLE `judged` (
              `id` int(11) NOT NULL,
              `v` varchar(20) DEFAULT NULL,
              `n` int(11) DEFAULT NULL,
              PRIMARY KEY (`id`),
              KEY `by_n` (`n`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci""";
    private static final String KEYED = """
            CREATE TABLE `keyed` (
              `k` int(11) NOT NULL,
              `v` int(11) DEFAULT NULL,
              UNIQUE KEY `uk` (`k`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci""";

    private final Map<String, String> target = new LinkedHashMap<>(Map.of("judged", JUDGED, "keyed", KEYED));
    private final Map<String, String> source = new LinkedHashMap<>(Map.of("judged", JUDGED, "keyed", KEYED));

    private MySqlDdlJudge judge() {
        return new MySqlDdlJudge(Engine.MARIADB, "shop", new TableFilter(List.of(io.migrator.core.plan.Glob.compile("*")), List.of(io.migrator.core.plan.Glob.compile("scratch*"))), () -> Map.copyOf(target),
                name -> Optional.ofNullable(target.get(name)), () -> source.entrySet().stream()
                .map(e -> new TableDef(new TableId("shop", e.getKey()), List.of(new ColumnDef("id", "int", false, false)), List.of("id"),
                        e.getValue(), 0, "PRIMARY")).toList());
    }

    private static void refused(Decision d, String why) {
        assertThat(d.verdict()).as(d.toString()).isEqualTo(Verdict.REFUSE);
        assertThat(d.reason()).contains(why);
    }

    @Test
    void aCommentBeforeDropColumnDoesNotHideIt() {
        refused(judge().judge("# tidy up\nALTER TABLE judged DROP COLUMN n"), "drops (or renames) column n of judged");
        refused(judge().judge("/* x */ ALTER TABLE `judged` DROP `n`"), "drops (or renames) column n of judged");
    }

    @Test
    void otherClausesBesideAnAddedColumnAreReadToo() {
        refused(judge().judge("ALTER TABLE judged ADD COLUMN y VARCHAR(5), CONVERT TO CHARACTER SET latin1"), "character set of judged");
        refused(judge().judge("ALTER TABLE judged MODIFY v VARCHAR(30)"), "changes column v of judged");
        refused(judge().judge("ALTER TABLE judged CHANGE n m INT"), "drops (or renames) column n of judged");
        refused(judge().judge("ALTER TABLE judged MODIFY v VARCHAR(20) COLLATE latin1_bin"), "changes column v of judged");
    }

    @Test
    void anAddedColumnIsAddedWithTheSourcesDefinitionAndNothingElseOfTheStatement() {
        source.put("judged", JUDGED.replace("  `n` int(11) DEFAULT NULL,\n", "  `n` int(11) DEFAULT NULL,\n  `x` int(11) NOT NULL DEFAULT 7,\n"));
        Decision d = judge().judge("ALTER TABLE judged ADD COLUMN x INT NOT NULL DEFAULT 7, ENGINE=MyISAM");
        assertThat(d.verdict()).isEqualTo(Verdict.APPLY);
        assertThat(d.statements()).containsExactly("ALTER TABLE `judged` ADD COLUMN `x` int(11) NOT NULL DEFAULT 7 AFTER `n`");
    }

    @Test
    void aCollationOnAnAddedColumnIsRead() {
        source.put("judged", JUDGED.replace("  `n` int(11) DEFAULT NULL,\n",
                "  `n` int(11) DEFAULT NULL,\n  `b` varchar(10) CHARACTER SET latin1 COLLATE latin1_bin DEFAULT NULL,\n"));
        Decision d = judge().judge("ALTER TABLE judged ADD COLUMN b VARCHAR(10) COLLATE latin1_bin");
        assertThat(d.verdict()).as(d.toString()).isEqualTo(Verdict.APPLY);
        assertThat(d.statements()).containsExactly("ALTER TABLE `judged` ADD COLUMN `b` varchar(10) CHARACTER SET latin1 COLLATE latin1_bin "
                + "DEFAULT NULL AFTER `n`");
    }

    @Test
    void aPrimaryKeyOverTheUniqueKeyThatStoodForItIsRefused() {
        source.put("keyed", KEYED.replace("  UNIQUE KEY `uk` (`k`)", "  PRIMARY KEY (`k`),\n  UNIQUE KEY `uk` (`k`)"));
        refused(judge().judge("ALTER TABLE keyed ADD PRIMARY KEY (k)"), "primary key of keyed");
        refused(judge().judge("ALTER TABLE judged DROP PRIMARY KEY, ADD PRIMARY KEY (id, n)"), "row key of judged");
    }

    @Test
    void droppedAndRenamedTablesAreRefusedAndTablesOutsideThePlanIgnored() {
        refused(judge().judge("DROP TABLE judged"), "drops or renames table judged");
        refused(judge().judge("RENAME TABLE judged TO judged_old"), "drops or renames table judged");
        assertThat(judge().judge("CREATE TABLE scratch_1 (id INT PRIMARY KEY)").verdict()).isEqualTo(Verdict.IGNORE);
        assertThat(judge().judge("GRANT SELECT ON shop.* TO 'app'@'%'").verdict()).isEqualTo(Verdict.IGNORE);
    }

    @Test
    void optionsAndCommentsAreNotReplayedAndIndexesAreAdded() {
        Decision comment = judge().judge("ALTER TABLE judged COMMENT 'x', ENGINE=MyISAM");
        assertThat(comment.verdict()).isEqualTo(Verdict.IGNORE);
        assertThat(comment.reason()).contains("changes no column or key of judged");
        source.put("judged", JUDGED.replace("  KEY `by_n` (`n`)", "  KEY `by_n` (`n`),\n  KEY `by_v` (`v`)"));
        Decision index = judge().judge("CREATE INDEX by_v ON judged (v)");
        assertThat(index.verdict()).as(index.toString()).isEqualTo(Verdict.APPLY);
        assertThat(index.statements()).containsExactly("ALTER TABLE `judged` ADD KEY `by_v` (`v`)");
    }

    @Test
    void aNewTableIsCreatedFromTheSourcesDefinition() {
        String added = "CREATE TABLE `added` (\n  `id` int(11) NOT NULL,\n  `x` int(11) DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB";
        source.put("added", added);
        Decision d = judge().judge("-- new\nCREATE TABLE added (id INT PRIMARY KEY, x INT)");
        assertThat(d.verdict()).isEqualTo(Verdict.APPLY);
        assertThat(d.statements()).containsExactly(added);
    }

    @Test
    void theStreamsOwnTruncateIsReplayed() {
        Decision d = judge().judge(MySqlDdlJudge.truncate("odd `name"));
        assertThat(d.verdict()).isEqualTo(Verdict.APPLY);
        assertThat(d.table()).contains("odd `name");
    }
}
