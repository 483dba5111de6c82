package io.migrator.core.spi;

import io.migrator.core.schema.TableDef;
import io.migrator.core.state.Chunk;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Checksums computed inside one database, for the validator: nothing but counts and hashes leaves the server for
 * equal ranges. Both sides normalize rows the same way (time zone UTC, text as utf8mb4 bytes, NULL distinct from
 * empty, every value length-prefixed so no two rows share a text form), so equal data gives equal hashes even
 * when collations or session time zones differ, and any difference in stored data changes the hash.
 * Tables are named by their source definition; the target side maps them to its own database.
 * Keys travel in the encoded text form the connector uses for chunk bounds.
 */
public interface RowChecksums {
    /** Row count and an order-independent digest of the normalized rows in a key range. */
    record RangeSum(long rows, String digest) {
    }

    RangeSum checksum(TableDef table, Chunk range);

    /**
     * Key ranges of about {@code rowsPerRange} rows covering the whole table, planned cheaply (e.g. arithmetic on an
     * integer key); empty when this side cannot do better than walking the key (the caller then plans by walking).
     */
    default List<Chunk> quickRanges(TableDef table, int rowsPerRange) {
        return List.of();
    }

    /** A key that splits the range into two parts of about {@code rows / 2} rows, or empty when it holds fewer than 2 rows. */
    Optional<String> midKey(TableDef table, Chunk range, long rows);

    /** Hash of every row in the range, by encoded key. */
    Map<String, String> rowHashes(TableDef table, Chunk range);

    /** Hash of the rows with these keys, by encoded key; keys without a row are absent. */
    Map<String, String> rowHashes(TableDef table, List<String> keys);

    /** A hash of each column of one row, by column name; empty when the row does not exist. */
    Map<String, String> columnHashes(TableDef table, String key);

    /** The key's column values, for reports: column name to value as text. */
    Map<String, Object> describeKey(TableDef table, String key);

    /**
     * A changed row's key (as the stream carries it) in the text form {@link #rowHashes(TableDef, List)} takes; empty when
     * this side cannot spell it exactly (the cutover's verification then counts the row as not checked).
     */
    default Optional<String> keyText(TableDef table, io.migrator.core.change.RowKey key) {
        return Optional.empty();
    }
}
