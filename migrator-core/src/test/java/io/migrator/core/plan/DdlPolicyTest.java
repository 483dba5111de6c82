package io.migrator.core.plan;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.apply.DdlPolicy;
import io.migrator.core.apply.DdlPolicy.Verdict;
import org.junit.jupiter.api.Test;

class DdlPolicyTest {
    @Test
    void additiveStatementsAreApplied() {
        assertThat(DdlPolicy.judge("ALTER TABLE t ADD COLUMN c INT")).isEqualTo(Verdict.APPLY);
        assertThat(DdlPolicy.judge("alter table `line items` add index by_sku (sku)")).isEqualTo(Verdict.APPLY);
        assertThat(DdlPolicy.judge("ALTER TABLE `shop`.`t` ADD c2 VARCHAR(3) DEFAULT 'x'")).isEqualTo(Verdict.APPLY);
        assertThat(DdlPolicy.judge("CREATE TABLE t2 (id INT PRIMARY KEY)")).isEqualTo(Verdict.APPLY);
        assertThat(DdlPolicy.judge("CREATE UNIQUE INDEX u ON t (a)")).isEqualTo(Verdict.APPLY);
        assertThat(DdlPolicy.judge("TRUNCATE TABLE t")).isEqualTo(Verdict.APPLY);
        assertThat(DdlPolicy.judge("TRUNCATE TABLE \"public\".\"Odd Name\" CASCADE")).isEqualTo(Verdict.APPLY);
    }

    @Test
    void destructiveStatementsAreRefused() {
        assertThat(DdlPolicy.judge("ALTER TABLE t DROP COLUMN c")).isEqualTo(Verdict.REFUSE);
        assertThat(DdlPolicy.judge("ALTER TABLE t ADD COLUMN d INT, DROP COLUMN c")).isEqualTo(Verdict.REFUSE);
        assertThat(DdlPolicy.judge("ALTER TABLE t MODIFY c BIGINT")).isEqualTo(Verdict.REFUSE);
        assertThat(DdlPolicy.judge("DROP TABLE t")).isEqualTo(Verdict.REFUSE);
        assertThat(DdlPolicy.judge("RENAME TABLE a TO b")).isEqualTo(Verdict.REFUSE);
    }

    @Test
    void sessionStatementsAreIgnored() {
        assertThat(DdlPolicy.judge("SET character_set_server=utf8mb4")).isEqualTo(Verdict.IGNORE);
        assertThat(DdlPolicy.judge("FLUSH PRIVILEGES")).isEqualTo(Verdict.IGNORE);
        assertThat(DdlPolicy.judge("CREATE DATABASE IF NOT EXISTS `shop`")).isEqualTo(Verdict.IGNORE);
        assertThat(DdlPolicy.judge("create schema reports")).isEqualTo(Verdict.IGNORE);
        assertThat(DdlPolicy.judge("ALTER DATABASE shop CHARACTER SET utf8mb4")).isEqualTo(Verdict.IGNORE);
        assertThat(DdlPolicy.judge("DROP DATABASE shop")).isEqualTo(Verdict.REFUSE);
    }

    @Test
    void findsTheTableAStatementChanges() {
        assertThat(DdlPolicy.table("ALTER TABLE `shop`.`line items` ADD c INT")).contains("line items");
        assertThat(DdlPolicy.table("CREATE TABLE IF NOT EXISTS orders_2 (id INT)")).contains("orders_2");
        assertThat(DdlPolicy.table("DROP TABLE IF EXISTS `a``b`")).contains("a`b");
        assertThat(DdlPolicy.table("CREATE INDEX i ON shop.t (a)")).contains("t");
        assertThat(DdlPolicy.table("FLUSH PRIVILEGES")).isEmpty();
    }
}
