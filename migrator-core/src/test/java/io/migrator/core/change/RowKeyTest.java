package io.migrator.core.change;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.schema.TableId;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A row's identity: equal keys hash alike, byte[] parts compare by content, another table or value is another row. */
class RowKeyTest {
    private static final TableId T = new TableId("public", "t");

    private static RowKey key(Object... values) {
        return new RowKey(T, Arrays.stream(values).map(v -> "c" + Arrays.asList(values).indexOf(v)).toList(), Arrays.asList(values));
    }

    @Test
    void keysCompareByTheirValuesAndBytesByContent() {
        RowKey a = key(1, new byte[] {1, 2}, "x");
        RowKey b = key(1, new byte[] {1, 2}, "x");
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
        assertThat(a).isNotEqualTo(key(1, new byte[] {1, 3}, "x")).isNotEqualTo(key(2, new byte[] {1, 2}, "x"));
        assertThat(key(1, null)).isEqualTo(key(1, null)).hasSameHashCodeAs(key(1, null)).isNotEqualTo(key(1, 0));
        assertThat(a).isNotEqualTo(new RowKey(new TableId("public", "u"), a.columns(), a.values()));
        assertThat(key(1L)).as("a value's own equality: Long 1 is not Integer 1").isNotEqualTo(key(1));
        assertThat(new java.util.HashSet<>(List.of(a, b, key(1, new byte[] {1, 3}, "x")))).hasSize(2);
    }
}
