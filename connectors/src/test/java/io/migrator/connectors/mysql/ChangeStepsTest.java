package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import io.migrator.core.schema.TableId;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The order the applier writes a batch in is the order its look-ahead reads it: steps are that order. */
class ChangeStepsTest {
    private final TableId a = new TableId("shop", "a");
    private final TableId b = new TableId("shop", "b");

    private RowChange upsert(TableId t, int id, String... columns) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", id);
        for (String c : columns) {
            row.put(c, "v" + id);
        }
        return new RowChange.Upsert(new RowKey(t, List.of("id"), List.of(id)), row);
    }

    private RowChange delete(TableId t, int id) {
        return new RowChange.Delete(new RowKey(t, List.of("id"), List.of(id)));
    }

    @Test
    void deletesFirstThenUpsertsByTableAndColumnSetInStepsOfAtMostAThousand() {
        List<RowChange> changes = new ArrayList<>();
        for (int i = 0; i < 2_500; i++) {
            changes.add(upsert(a, i, "c"));
        }
        changes.add(upsert(b, 1, "c"));
        changes.add(delete(b, 7));
        changes.add(upsert(a, 9_000, "c", "added")); // a column added by DDL: a statement of its own
        changes.add(delete(a, 8));

        List<List<RowChange>> steps = MySqlChangeWriter.steps(changes);

        assertThat(steps).extracting(List::size).containsExactly(1, 1, 1_000, 1_000, 500, 1, 1);
        assertThat(steps.get(0)).containsExactly(delete(b, 7));
        assertThat(steps.get(1)).containsExactly(delete(a, 8));
        assertThat(steps.get(2).get(0)).isEqualTo(upsert(a, 0, "c"));
        assertThat(steps.get(4).get(499)).isEqualTo(upsert(a, 2_499, "c"));
        assertThat(steps.get(5)).containsExactly(upsert(b, 1, "c"));
        assertThat(steps.get(6)).containsExactly(upsert(a, 9_000, "c", "added"));
        assertThat(steps.stream().mapToInt(List::size).sum()).as("every change in exactly one step").isEqualTo(changes.size());
    }

    @Test
    void noChangesNoSteps() {
        assertThat(MySqlChangeWriter.steps(List.of())).isEmpty();
    }
}
