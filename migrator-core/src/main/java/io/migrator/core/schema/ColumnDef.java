package io.migrator.core.schema;

/**
 * A column as the source declares it. {@code type} is the engine's full type text
 * (e.g. {@code decimal(65,30)}, {@code datetime(6)}); generated columns are never written, the target computes them.
 */
public record ColumnDef(String name, String type, boolean nullable, boolean generated) {
}
