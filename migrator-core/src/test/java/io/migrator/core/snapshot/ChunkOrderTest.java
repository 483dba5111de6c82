package io.migrator.core.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChunkOrderTest {
    private record Work(TableDef table, int chunk) {
    }

    private static TableDef table(String name) {
        return new TableDef(new TableId("shop", name), List.of(new ColumnDef("id", "int", false, false)), List.of("id"), "", 0);
    }

    @Test
    void chunksTakeTurnsAcrossTablesAndKeepTheirOrderWithinATable() {
        TableDef a = table("a");
        TableDef b = table("b");
        TableDef c = table("c");
        List<Work> work = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            work.add(new Work(a, i));
        }
        work.add(new Work(b, 0));
        for (int i = 0; i < 2; i++) {
            work.add(new Work(c, i));
        }

        List<Work> order = SnapshotCoordinator.interleaved(work, Work::table);

        assertThat(order).extracting(w -> w.table().id().name() + w.chunk())
                .containsExactly("a0", "b0", "c0", "a1", "c1", "a2");
    }
}
