package io.migrator.core.state;

import java.util.EnumSet;
import java.util.Set;

/** The phases of a migration and which moves between them are allowed (ARCHITECTURE.md, phases). */
public enum Phase {
    PREFLIGHT, SCHEMA, SNAPSHOT, CATCH_UP, STREAMING, CUTTING_OVER, CUT_OVER, COMPLETED, PAUSED, FAILED, ROLLED_BACK;

    public Set<Phase> next() {
        return switch (this) {
            case PREFLIGHT -> EnumSet.of(SCHEMA, FAILED);
            case SCHEMA -> EnumSet.of(SNAPSHOT, FAILED);
            case SNAPSHOT -> EnumSet.of(CATCH_UP, PAUSED, FAILED);
            case CATCH_UP -> EnumSet.of(STREAMING, PAUSED, FAILED);
            case STREAMING -> EnumSet.of(CATCH_UP, CUTTING_OVER, PAUSED, FAILED);
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
}
