package io.migrator.core.plan;

import java.time.Duration;
import java.util.Objects;

/** A validated migration plan. Built only by {@link PlanLoader}; immutable. */
public record Plan(String file, String name, Endpoint source, Endpoint target, TableFilter tables,
                   Snapshot snapshot, Cutover cutover, Control control) {
    public Plan {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(tables, "tables");
        Objects.requireNonNull(snapshot, "snapshot");
        Objects.requireNonNull(cutover, "cutover");
        Objects.requireNonNull(control, "control");
    }

    /** How the initial copy runs. */
    public record Snapshot(int parallelism, int chunkRows, long maxRowsPerSecond, int maxSourceThreadsRunning) {
        public Snapshot {
            if (parallelism < 1 || chunkRows < 1 || maxRowsPerSecond < 0 || maxSourceThreadsRunning < 0) {
                throw new IllegalArgumentException("parallelism and chunkRows must be positive, limits not negative");
            }
        }

        public Snapshot(int parallelism, int chunkRows) {
            this(parallelism, chunkRows, 0, 0);
        }
    }

    /** The cutover runbook's limits. */
    public record Cutover(Duration maxDowntime) {
        public Cutover {
            Objects.requireNonNull(maxDowntime, "maxDowntime");
        }
    }

    /** Where the worker serves /metrics, the status and control API and the dashboard. */
    public record Control(String listenHost, int listenPort) {
        public String listen() {
            return listenHost + ":" + listenPort;
        }
    }
}
