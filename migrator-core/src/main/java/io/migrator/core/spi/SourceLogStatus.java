package io.migrator.core.spi;

/**
 * Where the source's change log stands relative to what the migration applied.
 *
 * @param bytesBehind log bytes written after the applied position (binlog across files, WAL, replication offset)
 * @param retentionHeadroomSeconds at least how long until the source may purge log the migration still needs;
 *        null when the source does not purge by age
 * @param head the source's current log position, as text
 * @param retainedBytes log the source keeps for this migration alone (a PostgreSQL slot's WAL since its restart point);
 *        null when the source keeps its log regardless (MySQL binlog)
 */
public record SourceLogStatus(long bytesBehind, Double retentionHeadroomSeconds, String head, Long retainedBytes) {
    public SourceLogStatus(long bytesBehind, Double retentionHeadroomSeconds, String head) {
        this(bytesBehind, retentionHeadroomSeconds, head, null);
    }
}
