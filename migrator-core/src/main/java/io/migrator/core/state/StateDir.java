package io.migrator.core.state;

import java.nio.file.Path;

/**
 * The worker host's own folder for what a migration keeps locally (the stream's schema history, the control token of a
 * worker without a configured one): {@code MIGRATOR_STATE_DIR} (or the system property {@code migrator.stateDir}), else
 * {@code ~/.migrator/state}.
 */
public final class StateDir {
    private StateDir() {
    }

    public static Path path() {
        String configured = System.getProperty("migrator.stateDir", System.getenv("MIGRATOR_STATE_DIR"));
        return configured != null && !configured.isBlank() ? Path.of(configured)
                : Path.of(System.getProperty("user.home"), ".migrator", "state");
    }

    /** A plan name as a file name: anything but letters, digits, dot, dash and underscore becomes an underscore. */
    public static String fileName(String plan) {
        return plan.replaceAll("[^A-Za-z0-9._-]", "_");
    }
}
