package io.migrator.core.apply;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import io.migrator.core.schema.TableId;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CoalescerTest {
    private static final TableId T = new TableId("public", "t");

    private static RowKey key(int id) {
        return new RowKey(T, List.of("id"), List.of(id));
    }

    private static RowChange.Upsert upsert(int id, Object doc, Object n) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", id);
        row.put("doc", doc);
        row.put("n", n);
        return new RowChange.Upsert(key(id), row);
    }

    @Test
    void keepsTheLastChangeOfEachKeyInTheOrderOfLastChanges() {
        List<RowChange> out = Coalescer.coalesce(List.of(upsert(1, "a", 1), upsert(2, "b", 1), upsert(1, "c", 2), new RowChange.Delete(key(2))));
        assertThat(out).containsExactly(upsert(1, "c", 2), new RowChange.Delete(key(2)));
    }

    @Test
    void aPartialImageTakesItsUnchangedColumnsFromTheEarlierImageOfTheSameRow() {
        List<RowChange> out = Coalescer.coalesce(List.of(upsert(1, "big", 1), upsert(1, RowChange.UNCHANGED, 2), upsert(1, RowChange.UNCHANGED, 3)));
        assertThat(out).containsExactly(upsert(1, "big", 3));
        assertThat(RowChange.partial(((RowChange.Upsert) out.get(0)).row())).isFalse();
    }

    @Test
    void aPartialImageWithoutAnEarlierFullOneStaysPartial() {
        List<RowChange> out = Coalescer.coalesce(List.of(new RowChange.Delete(key(1)), upsert(2, "x", 1), upsert(1, RowChange.UNCHANGED, 5)));
        assertThat(out).containsExactly(upsert(2, "x", 1), upsert(1, RowChange.UNCHANGED, 5));
        assertThat(RowChange.partial(((RowChange.Upsert) out.get(1)).row())).isTrue();
    }

    @Test
    void manyKeysAndCollidingHashesKeepTheLastChangeOfEachInTheOrderOfLastChanges() {
        // "Aa" and "BB" hash alike: keys built of them collide in the coalescer's table and must still be told apart
        java.util.Random random = new java.util.Random(42);
        List<RowChange> changes = new java.util.ArrayList<>();
        for (int i = 0; i < 5000; i++) {
            int k = random.nextInt(300);
            String id = (k % 2 == 0 ? "Aa" : "BB") + (k / 2);
            RowKey key = new RowKey(T, List.of("id"), List.of(id));
            changes.add(random.nextInt(10) == 0 ? new RowChange.Delete(key) : new RowChange.Upsert(key, Map.of("id", id, "n", i)));
        }
        Map<RowKey, RowChange> expected = new LinkedHashMap<>();
        for (RowChange c : changes) {
            expected.remove(c.key());
            expected.put(c.key(), c);
        }
        assertThat(Coalescer.coalesce(changes)).containsExactlyElementsOf(expected.values());
    }
}
