package io.migrator.cli;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;

/** What a command of the contract answers until its capability lands: a clear failure, never a fake success. */
final class PendingCapability {
    private PendingCapability() {
    }

    static MigratorException notYet(String command, String arrivesWith) {
        return new MigratorException(ErrorCode.NOT_AVAILABLE, "`migrator " + command + "` is not available in this build yet",
                "it arrives with " + arrivesWith + "; available today: sandbox, plan check, run (MySQL/MariaDB, PostgreSQL, Redis), status, wait, pause, "
                        + "resume, validate, sequences, cutover (MySQL/MariaDB), complete");
    }
}
