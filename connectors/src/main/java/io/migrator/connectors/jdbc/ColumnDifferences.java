package io.migrator.connectors.jdbc;

import io.migrator.core.schema.ColumnDef;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiPredicate;

/** How an existing target table differs from the source's definition, column by column, in words a DBA acts on. */
public final class ColumnDifferences {
    private ColumnDifferences() {
    }

    /** {@code target}: the target's columns by name with their type text; {@code sameType} compares type texts. */
    public static List<String> of(List<ColumnDef> source, Map<String, String> target, BiPredicate<String, String> sameType) {
        Map<String, String> left = new LinkedHashMap<>(target);
        List<String> differences = new ArrayList<>();
        for (ColumnDef column : source) {
            String type = left.remove(column.name());
            if (type == null) {
                differences.add("column " + column.name() + " is missing on the target");
            } else if (!sameType.test(type, column.type())) {
                differences.add("column " + column.name() + " is " + type + " on the target, " + column.type() + " on the source");
            }
        }
        left.keySet().forEach(extra -> differences.add("column " + extra + " exists only on the target"));
        return differences;
    }
}
