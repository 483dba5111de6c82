package io.migrator.core.state;

import java.util.List;
import java.util.Map;

/**
 * What `migrator validate` reports (the CLI.md shape, extended): per table, the rows compared and every difference
 * that survived the fenced recheck, with its key and kind: {@code missing} (on the target), {@code extra} (only on the
 * target) or {@code different} (with the columns that differ). {@code unsettled}: rows that kept changing on the source
 * through every recheck, so no verdict could be reached; they are not counted as mismatches.
 */
public record ValidationReport(boolean ok, String state, String startedAt, String finishedAt, long rowsCompared, long mismatchCount,
                               Double parityPercent, boolean repair, List<TableResult> tables, String note) {
    public ValidationReport {
        tables = List.copyOf(tables);
    }

    public record TableResult(String table, long rowsCompared, long chunks, long chunksRechecked, List<Mismatch> mismatches,
                              List<Map<String, Object>> unsettled, long repaired) {
        public TableResult {
            mismatches = List.copyOf(mismatches);
            unsettled = List.copyOf(unsettled);
        }
    }

    public record Mismatch(Map<String, Object> key, String kind, List<String> columns, boolean repaired) {
        public Mismatch {
            columns = columns == null ? List.of() : List.copyOf(columns);
        }
    }
}
