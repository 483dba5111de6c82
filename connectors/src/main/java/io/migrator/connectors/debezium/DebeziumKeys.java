package io.migrator.connectors.debezium;

import io.migrator.core.change.RowKey;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.regex.Pattern;
import java.util.stream.Stream;
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

    /**
     * Debezium's {@code message.key.columns} for the tables keyed by a unique index rather than a primary key, so their
     * change events carry exactly the key migrator copies and validates by (the connector would otherwise send no key, or
     * pick its own index); "" when every table has a primary key. The option splits on ; : and , before any regular
     * expression is read, so names holding those cannot be told ({@link #unnameable}, refused by preflight).
     */
    public static String messageKeyColumns(List<TableDef> tables) {
        List<String> parts = new ArrayList<>();
        for (TableDef t : tables) {
            if (t.keyedByUniqueIndex()) {
                parts.add(Pattern.quote(t.id().schema() + "." + t.id().name()) + ":"
                        + String.join(",", t.key().stream().map(Pattern::quote).toList()));
            }
        }
        return String.join(";", parts);
    }

    /** Whether {@code message.key.columns} cannot name a table (schema, name) keyed by these columns. */
    public static boolean unnameable(String schema, String table, List<String> columns) {
        return Stream.concat(Stream.of(schema, table), columns.stream()).anyMatch(n -> n.contains(";") || n.contains(":") || n.contains(","));
    }

    /**
     * Whether a change event is the first half of a key change: the connector emits a delete of the old key (with the
     * header {@code __debezium.newkey}) and a create of the new one, both at the same source offset. A batch must never end
     * between them: a checkpoint at that offset would make a restart skip the create.
     */
    public static boolean startsKeyChange(org.apache.kafka.connect.source.SourceRecord record) {
        if (record == null) {
            return false;
        }
        for (org.apache.kafka.connect.header.Header header : record.headers()) {
            if (header.key().equals("__debezium.newkey")) {
                return true;
            }
        }
        return false;
    }
}
