package io.migrator.core.change;

import java.util.Objects;

/**
 * A point in the source's change log, opaque to the core: binlog file/pos/GTID set, an LSN, a Redis
 * replication offset. Each connector encodes and decodes its own text form; the target stores it
 * with the rows it covers.
 */
public record SourcePosition(String text) {
    public SourcePosition {
        Objects.requireNonNull(text, "text");
    }

    @Override
    public String toString() {
        return text;
    }
}
