package io.migrator.core.run;

/** A point-in-time view of a running migration, for status, metrics and tests. */
public record MigrationStatus(String name, Phase phase, int tablesDone, int tablesTotal, long rowsCopied,
                              long appliedEvents, String position, long lagMillis, long retries) {
}
