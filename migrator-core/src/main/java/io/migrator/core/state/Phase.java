package io.migrator.core.state;

import java.util.EnumSet;
import java.util.Set;

/** The phases of a migration and which moves between them are allowed (ARCHITECTURE.md, phases). */
public enum Phase {
    PREFLIGHT, SCHEMA, SNAPSHOT, CATCH_UP, STREAMING, CUTTING_OVER, CUT_OVER, COMPLETED, PAUSED, FAILED, ROLLED_BACK;

    public Set<Phase> next() {
        return switch (this) {
            case PREFLIGHT -> EnumSet.of(SCHEMA, SNAPSHOT, FAILED); // SNAPSHOT: Redis has no schema to create
            case SCHEMA -> EnumSet.of(SNAPSHOT, FAILED);
            case SNAPSHOT -> EnumSet.of(CATCH_UP, PAUSED, FAILED);
            // SNAPSHOT again: a Redis source whose backlog no longer holds the position syncs in full (a full resync)
            case CATCH_UP -> EnumSet.of(STREAMING, SNAPSHOT, PAUSED, FAILED);
            case STREAMING -> EnumSet.of(CATCH_UP, SNAPSHOT, CUTTING_OVER, PAUSED, FAILED);
            case CUTTING_OVER -> EnumSet.of(CUT_OVER, STREAMING, FAILED);
            case CUT_OVER -> EnumSet.of(COMPLETED, ROLLED_BACK, FAILED);
            case PAUSED -> EnumSet.of(SNAPSHOT, CATCH_UP, STREAMING, FAILED);
            case FAILED -> EnumSet.of(PREFLIGHT, SCHEMA, SNAPSHOT, CATCH_UP, STREAMING);
            case ROLLED_BACK -> EnumSet.of(CATCH_UP, FAILED); // the old source takes the writes again: streaming forward resumes
            case COMPLETED -> EnumSet.noneOf(Phase.class);
        };
    }

    public boolean canMoveTo(Phase target) {
        return next().contains(target);
    }

    /** Throws when the state machine does not allow this move (staying in a phase is not a move). */
    public void requireMoveTo(Phase target) {
        if (this != target && !canMoveTo(target)) {
            throw new IllegalStateException("phase " + this + " cannot move to " + target + " (allowed: " + next() + ")");
        }
    }
}
