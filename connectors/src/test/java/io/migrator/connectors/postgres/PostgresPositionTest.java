package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class PostgresPositionTest {
    @Test
    void aPositionInsideATransactionMayFindTheSlotConfirmedUpToWhereTheTransactionCommits() {
        var inside = PostgresPosition.of(Map.of("lsn", 500L, "lsn_proc", 500L, "lsn_commit", 400L, "txId", 7L, "seq", 3L, "lsn_final", 900L));
        assertThat(PostgresPosition.reach(inside)).isEqualTo(500L);
        assertThat(PostgresPosition.resumeLimit(inside)).isEqualTo(900L);
    }

    @Test
    void otherPositionsMayFindItConfirmedOnlyUpToTheirReach() {
        var end = PostgresPosition.of(Map.of("lsn", 700L, "lsn_proc", 700L, "lsn_commit", 700L));
        assertThat(PostgresPosition.resumeLimit(end)).isEqualTo(700L);
        // a Debezium-era position inside a transaction carries no final LSN
        var debezium = PostgresPosition.of(Map.of("lsn", 500L, "lsn_proc", 500L, "lsn_commit", 400L, "txId", 7L));
        assertThat(PostgresPosition.resumeLimit(debezium)).isEqualTo(500L);
        assertThat(PostgresPosition.resumeLimit(PostgresPosition.start(org.postgresql.replication.LogSequenceNumber.valueOf(42L)))).isEqualTo(42L);
    }
}
