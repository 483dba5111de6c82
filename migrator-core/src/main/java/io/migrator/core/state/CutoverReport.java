package io.migrator.core.state;

import java.util.List;

/**
 * A cutover as it runs and after it ran (CLI.md: {@code ok}, {@code aborted}, {@code writeFreezeMillis},
 * {@code steps[{name, millis, ok}]}). {@code finished}: no step will follow. {@code aborted}: stopped before the point
 * of no return with the source writable again (exit 4). Finished, neither ok nor aborted: failed after the switch
 * began, the state in {@code error} (exit 1; {@code cutover} again goes on forward). {@code writeFreezeMillis}: from
 * the moment writes stopped on the source to the moment the target was open for them (or the source open again).
 */
public record CutoverReport(String name, boolean dryRun, boolean finished, boolean ok, boolean aborted, long writeFreezeMillis,
                            long budgetMillis, List<Step> steps, MigrationStatus.Problem error, String startedAt) {
    public CutoverReport {
        steps = steps == null ? List.of() : List.copyOf(steps);
    }

    /**
     * One step: its stable name (preconditions, freeze, fence, verify, sequences, reverse-position, switch, freeze-lasting,
     * open, unfreeze), how long it took, whether it did what it must, and what it found (for a dry run: the prediction).
     */
    public record Step(String name, long millis, boolean ok, String detail) {
    }

    /** The exit code CLI.md gives this outcome. */
    @com.fasterxml.jackson.annotation.JsonIgnore
    public int exitCode() {
        return ok ? 0 : aborted ? 4 : 1;
    }
}
