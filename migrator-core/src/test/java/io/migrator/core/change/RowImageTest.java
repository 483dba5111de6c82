package io.migrator.core.change;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.core.apply.Coalescer;
import io.migrator.core.schema.TableId;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RowImageTest {
    private static final String[] NAMES = {"id", "doc", "n"};

    @Test
    void readsAsTheMapOfItsNamesAndValues() {
        RowImage image = new RowImage(NAMES, new Object[] {"1", null, "7"});
        Map<String, Object> same = new LinkedHashMap<>();
        same.put("id", "1");
        same.put("doc", null);
        same.put("n", "7");
        assertThat(image).isEqualTo(same).hasSameHashCodeAs(same);
        assertThat(image.keySet()).containsExactly("id", "doc", "n");
        assertThat(image.values()).containsExactly("1", null, "7");
        assertThat(image.get(new String("n"))).as("a name equal but not the same string").isEqualTo("7");
        assertThat(image.containsKey("doc")).isTrue();
        assertThat(image.containsKey("other")).isFalse();
        assertThat(image.get("other")).isNull();
        assertThat(image.partial()).isFalse();
        assertThatThrownBy(() -> image.put("n", "8")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> new RowImage(NAMES, new Object[] {"1"})).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void knowsWhetherItLeavesAColumnUnchanged() {
        RowImage partial = new RowImage(NAMES, new Object[] {"1", RowChange.UNCHANGED, "7"});
        assertThat(partial.partial()).isTrue();
        assertThat(RowChange.partial(partial)).isTrue();
        // the coalescer fills the unchanged column from the row's earlier image
        RowKey key = new RowKey(new TableId("public", "t"), List.of("id"), List.of("1"));
        List<RowChange> out = Coalescer.coalesce(List.of(new RowChange.Upsert(key, new RowImage(NAMES, new Object[] {"1", "big", "6"})),
                new RowChange.Upsert(key, partial)));
        assertThat(((RowChange.Upsert) out.get(0)).row()).containsExactly(Map.entry("id", "1"), Map.entry("doc", "big"), Map.entry("n", "7"));
    }
}
