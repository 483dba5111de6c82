package io.migrator.core.state;

/** A validation's outcome as stored on the target: the summary status shows, and the full report as JSON. */
public record ValidationRecord(String state, String startedAt, String finishedAt, long rowsCompared, long mismatches,
                               Double parityPercent, String reportJson) {
}
