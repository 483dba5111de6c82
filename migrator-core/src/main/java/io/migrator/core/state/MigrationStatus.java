package io.migrator.core.state;

import java.util.List;

/**
 * A point-in-time view of a migration: what {@code /api/status}, {@code migrator status -o json}, the dashboard
 * and the metrics show. The field names are the CLI.md contract ({@code name, phase, lag.seconds, lag.events,
 * snapshot.tablesDone, snapshot.tablesTotal, snapshot.rowsCopied, applied.events, applied.position,
 * validation.state, validation.mismatches, cutoverReady}); everything else extends it. Numbers that are not
 * known are null, never a made-up zero. Times are ISO-8601 UTC text.
 */
public record MigrationStatus(String name, Phase phase, boolean paused, Worker worker, Lag lag, Snapshot snapshot,
                              Applied applied, Throughput throughput, Validation validation, boolean cutoverReady,
                              List<PhaseEntry> phases, Problem error, long retries, String updatedAt, String direction, Degraded degraded) {
    public MigrationStatus {
        phases = phases == null ? List.of() : List.copyOf(phases);
        direction = direction == null ? "forward" : direction;
    }

    public MigrationStatus(String name, Phase phase, boolean paused, Worker worker, Lag lag, Snapshot snapshot, Applied applied,
                           Throughput throughput, Validation validation, boolean cutoverReady, List<PhaseEntry> phases, Problem error,
                           long retries, String updatedAt, String direction) {
        this(name, phase, paused, worker, lag, snapshot, applied, throughput, validation, cutoverReady, phases, error, retries, updatedAt,
                direction, null);
    }

    /**
     * An outage the worker is riding out (null when none): since when, what failed first, how many attempts failed so far,
     * the last error, and how long it is waited out at most ({@code network.maxOutage}). The worker reconnects meanwhile.
     */
    public record Degraded(String since, String what, long attempts, String lastError, long maxOutageSeconds) {
    }

    /** This status with the outage the worker rides out now (null: none). */
    public MigrationStatus withDegraded(Degraded now) {
        return new MigrationStatus(name, phase, paused, worker, lag, snapshot, applied, throughput, validation, cutoverReady, phases, error,
                retries, updatedAt, direction, now);
    }

    /** A forward status ({@code direction}: which way changes flow, CLI.md: forward, or reverse after a cutover). */
    public MigrationStatus(String name, Phase phase, boolean paused, Worker worker, Lag lag, Snapshot snapshot, Applied applied,
                           Throughput throughput, Validation validation, boolean cutoverReady, List<PhaseEntry> phases, Problem error,
                           long retries, String updatedAt) {
        this(name, phase, paused, worker, lag, snapshot, applied, throughput, validation, cutoverReady, phases, error, retries, updatedAt,
                "forward");
    }

    /**
     * This (forward) migration's status once it is cut over and its reverse direction streams: its name, phase, snapshot
     * and phase history, with the reverse stream's lag, applied position, throughput, validation and readiness (for a
     * rollback), direction {@code reverse}; the reverse's phase moves follow this migration's own.
     */
    public MigrationStatus withReverse(MigrationStatus reverse) {
        List<PhaseEntry> all = new java.util.ArrayList<>(phases);
        reverse.phases().forEach(e -> all.add(new PhaseEntry(e.phase(), e.at(), "reverse: " + e.detail())));
        return new MigrationStatus(name, phase, reverse.paused(), worker, reverse.lag(), snapshot, reverse.applied(), reverse.throughput(),
                reverse.validation(), reverse.cutoverReady(), all, error != null ? error : reverse.error(), retries + reverse.retries(),
                reverse.updatedAt(), "reverse", degraded != null ? degraded : reverse.degraded());
    }

    /** Whether a worker serves this status ({@code running}) or it was read from the durable state on the target. */
    public record Worker(boolean running, String listen, String startedAt) {
    }

    /**
     * How far the target is behind. {@code seconds}: now minus the source commit time of the last applied event
     * (heartbeats keep it true on an idle source; during the copy, the time since the start position was taken).
     * {@code events}: change events read from the source and not yet committed on the target. {@code bytes}: the
     * source log not yet applied (binlog, WAL, replication offset). {@code etaSeconds}: time to catch up at the
     * current closing rate (null when the gap is not closing). {@code retentionHeadroomSeconds}: at least how long
     * until the source may purge log the migration still needs (null: the source does not purge by age, or unknown).
     */
    /** {@code retainedBytes}: source log kept for this migration alone (a PostgreSQL slot's WAL); null when none is. */
    public record Lag(Double seconds, Long events, Long bytes, Double etaSeconds, Double retentionHeadroomSeconds, Long retainedBytes) {
    }

    public record Snapshot(int tablesDone, int tablesTotal, long rowsCopied, long rowsEstimated, List<TableProgress> tables) {
        public Snapshot {
            tables = tables == null ? List.of() : List.copyOf(tables);
        }
    }

    public record TableProgress(String table, long rowsCopied, long rowsEstimated, int chunksDone, int chunksTotal, boolean done) {
    }

    public record Applied(long events, String position, Double eventsPerSecond) {
    }

    public record Throughput(Double rowsPerSecond, Double eventsPerSecond) {
    }

    /**
     * The last finished validation: state {@code never}, {@code passed}, {@code mismatch} or {@code inconclusive};
     * {@code running} while another one is under way (the last result stays until it finishes).
     */
    public record Validation(String state, long mismatches, Double parityPercent, String lastRunAt, boolean running) {
        public static Validation never() {
            return new Validation("never", 0, null, null, false);
        }

        public Validation withRunning(boolean now) {
            return new Validation(state, mismatches, parityPercent, lastRunAt, now);
        }
    }

    public record PhaseEntry(Phase phase, String at, String detail) {
    }

    public record Problem(String code, String message, String remedy) {
    }
}
