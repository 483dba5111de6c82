package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.schema.TableId;
import org.junit.jupiter.api.Test;

class LoadTurnsTest {
    private final LoadTurns turns = new LoadTurns();
    private final TableId a = new TableId("shop", "a");
    private final TableId b = new TableId("shop", "b");

    @Test
    void oneChunkPerAutoIncrementTableLoadsAtATimeAndEndingTheTurnFreesIt() {
        Runnable first = turns.take(a, true);
        assertThat(first).isNotNull();
        assertThat(turns.take(a, true)).as("second chunk of a while the first loads").isNull();
        assertThat(turns.take(b, true)).as("another table").isNotNull();
        first.run();
        assertThat(turns.take(a, true)).as("after the first chunk's transaction ended").isNotNull();
    }

    @Test
    void tablesWithoutTheLockAlwaysGetATurn() {
        assertThat(turns.take(a, false)).isNotNull();
        assertThat(turns.take(a, false)).isNotNull();
    }
}
