package io.migrator.core.run;

import io.migrator.core.change.SourcePosition;
import java.time.Instant;

/**
 * What survives a restart, stored on the target: the phase and the source position recorded before
 * the copy (P0). Stream progress lives in the checkpoint, written with the rows it covers.
 */
public record MigrationState(String migration, Phase phase, SourcePosition startPosition, Instant updatedAt, String detail) {
}
