package io.migrator.core.apply;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import io.migrator.core.schema.TableId;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the cutover verifies: the rows changed since the last clean validation, bounded, per table. */
class ChangedKeysTest {
    private static final TableId ORDERS = new TableId("shop", "orders");

    private static RowChange upsert(int id) {
        return new RowChange.Upsert(new RowKey(ORDERS, List.of("id"), List.of(id)), Map.of("id", id));
    }

    @Test
    void aReverseDirectionStartingAtTheFenceTracksEverythingUntilTheLimit() {
        ChangedKeys keys = new ChangedKeys(2);
        keys.trackAll();
        assertThat(keys.snapshot().partial()).as("from the fence on, nothing changed before is unknown").isFalse();
        keys.record(List.of(upsert(1), upsert(2)));
        assertThat(keys.snapshot().partial()).isFalse();
        keys.record(List.of(upsert(3)));
        assertThat(keys.snapshot().partial()).as("past the limit a rollback must validate first").isTrue();
        ChangedKeys late = new ChangedKeys(10);
        late.record(List.of(upsert(1)));
        late.trackAll();
        assertThat(late.snapshot().partial()).as("keys recorded before it: too late to claim everything").isTrue();
    }

    @Test
    void aCleanValidationForgetsWhatChangedBeforeItStartedOnly() {
        ChangedKeys keys = new ChangedKeys(100);
        assertThat(keys.snapshot().partial()).as("what changed before the worker started is not known").isTrue();
        keys.record(List.of(upsert(1), upsert(2)));
        long mark = keys.mark();
        keys.record(List.of(upsert(3), upsert(1))); // 1 changed again after the validation started: it stays
        keys.forgetBefore(mark);
        assertThat(keys.snapshot().byTable().get(ORDERS)).extracting(k -> k.values().get(0)).containsExactly(3, 1);
        assertThat(keys.snapshot().partial()).isFalse();
    }

    @Test
    void pastItsLimitItSaysItKeptAPart() {
        ChangedKeys keys = new ChangedKeys(2);
        keys.forgetBefore(keys.mark());
        assertThat(keys.snapshot().partial()).isFalse();
        keys.record(List.of(upsert(1), upsert(2), upsert(3)));
        assertThat(keys.snapshot().size()).isEqualTo(2);
        assertThat(keys.snapshot().partial()).isTrue();
        long mark = keys.mark();
        keys.forgetBefore(mark);
        assertThat(keys.snapshot().partial()).as("a clean validation after the overflow covers it").isFalse();
        assertThat(keys.snapshot().size()).isZero();
    }
}
