package io.migrator.core.state;

/**
 * A key range of one table: rows with key &gt; {@code lower} and &lt;= {@code upper}; null means open.
 * Bounds are encoded by the source connector (typed key values as text) and stored as they are.
 */
public record Chunk(int number, String lower, String upper) {
}
