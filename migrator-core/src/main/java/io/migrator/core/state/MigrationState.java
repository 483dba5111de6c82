package io.migrator.core.state;

import io.migrator.core.change.SourcePosition;
import java.time.Instant;

/**
 * What survives a restart, stored on the target: the phase and the source position recorded before the copy (P0).
 * Stream progress lives in the checkpoint, written with the rows it covers. {@code failedIn}: for a FAILED migration,
 * the phase it was in when it failed (the last phase its journal recorded before the failure), where a restart resumes;
 * null otherwise or when nothing was recorded before the failure.
 */
public record MigrationState(String migration, Phase phase, SourcePosition startPosition, Instant updatedAt, String detail,
                             Phase failedIn) {
    public MigrationState(String migration, Phase phase, SourcePosition startPosition, Instant updatedAt, String detail) {
        this(migration, phase, startPosition, updatedAt, detail, null);
    }

    /** Whether the copy was finished: the stream had started (CATCH_UP or STREAMING), or failed while it ran. */
    public boolean copied() {
        Phase at = phase == Phase.FAILED ? failedIn : phase;
        return at == Phase.CATCH_UP || at == Phase.STREAMING;
    }
}
