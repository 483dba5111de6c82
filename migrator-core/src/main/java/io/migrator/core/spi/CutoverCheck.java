package io.migrator.core.spi;

import java.time.Duration;
import java.util.List;

/**
 * One cutover precondition as a session checked it, before anything is frozen: a {@code blocking} one that fails stops
 * the cutover (exit 4) with its remedy; a warning is reported and the cutover goes on.
 */
public record CutoverCheck(String name, boolean passed, boolean blocking, String message, String remedy) {
    public static CutoverCheck pass(String name, String message) {
        return new CutoverCheck(name, true, true, message, null);
    }

    public static CutoverCheck fail(String name, String message, String remedy) {
        return new CutoverCheck(name, false, true, message, remedy);
    }

    public static CutoverCheck warn(String name, String message, String remedy) {
        return new CutoverCheck(name, false, false, message, remedy);
    }

    /** What the sessions need to know to check: the budget, and the application's logins named in the plan. */
    /** {@code rollback}: the runbook is a rollback (its source is the new server, its target the old source). */
    public record Context(Duration maxDowntime, List<String> applicationUsers, boolean dryRun, boolean rollback) {
        public Context {
            applicationUsers = List.copyOf(applicationUsers);
        }

        public Context(Duration maxDowntime, List<String> applicationUsers, boolean dryRun) {
            this(maxDowntime, applicationUsers, dryRun, false);
        }
    }
}
