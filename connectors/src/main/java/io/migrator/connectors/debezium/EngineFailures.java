package io.migrator.connectors.debezium;

import io.migrator.core.error.MigratorException;

/** What stopped an embedded Debezium engine. */
public final class EngineFailures {
    private EngineFailures() {
    }

    /** Our own handler's error (a refused statement, a value the target cannot hold) inside the engine's, with its remedy; else null. */
    public static MigratorException ours(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof MigratorException m) {
                return m;
            }
        }
        return null;
    }
}
