package io.migrator.core.spi;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;

/**
 * The seams a cutover calls, declared where the engines implement them: {@link SourceSession#freezeWrites},
 * {@link SourceSession#unfreezeWrites}, {@link SourceSession#positionInFreeze}, {@link TargetSession#openForWrites},
 * {@link TargetSession#closeForWrites}, and the wait for an applied position, {@link Worker#fence()}. An engine that
 * does not implement one refuses the cutover before anything is frozen, with this error.
 */
final class CutoverSeams {
    private CutoverSeams() {
    }

    static MigratorException notYet(String what) {
        return new MigratorException(ErrorCode.NOT_AVAILABLE, what + " is not available in this build",
                "cut over with the engine's own tools meanwhile: freeze writes, wait until `migrator status` shows lag 0, "
                        + "switch the application, then `migrator complete`");
    }
}
