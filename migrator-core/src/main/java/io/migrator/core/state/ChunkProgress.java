package io.migrator.core.state;

import io.migrator.core.schema.TableId;

/** A planned chunk and whether it is done; the done mark commits with the chunk's rows. */
public record ChunkProgress(TableId table, Chunk chunk, boolean done, long rows) {
}
