package io.migrator.connectors.debezium;

import io.migrator.core.change.RowKey;
import io.migrator.core.schema.TableId;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.Struct;

/**
 * The key of a Debezium change event as migrator's {@link RowKey}. Invariant: its columns are the key struct's fields in
 * the connector's order, and its values what the stream's own conversion makes of theirs. A change without a key struct
 * never gets here: each stream refuses it first, with its own remedy.
 */
public final class DebeziumKeys {
    private DebeziumKeys() {
    }

    /** {@code convert} is the stream's own value conversion: the same column arrives differently from each connector. */
    public static RowKey rowKey(TableId table, Struct key, BiFunction<Schema, Object, Object> convert) {
        List<String> columns = new ArrayList<>();
        List<Object> values = new ArrayList<>();
        for (Field field : key.schema().fields()) {
            columns.add(field.name());
            values.add(convert.apply(field.schema(), key.get(field)));
        }
        return new RowKey(table, columns, values);
    }
}
