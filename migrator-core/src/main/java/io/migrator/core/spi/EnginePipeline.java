package io.migrator.core.spi;

import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.ValidationReport;
import io.migrator.core.state.WorkerRecord;
import java.util.List;
import java.util.Optional;

/**
 * How an engine moves a plan, as its connector answers once: through core's row pipeline (tables, chunks, the stream
 * player, bookkeeping on the target) or with a worker of its own. Core drives either answer the same way from there
 * (io.migrator.core.run.Migrations), so no command asks which engine a plan names.
 */
public sealed interface EnginePipeline permits EnginePipeline.Rows, EnginePipeline.OwnWorker {
    /** What the migration moves, for reports: rows of tables, or keys of databases. */
    enum Unit {
        ROWS("rows", "tables"), KEYS("keys", "databases");

        private final String items;
        private final String groups;

        Unit(String items, String groups) {
            this.items = items;
            this.groups = groups;
        }

        /** "rows" or "keys". */
        public String items() {
            return items;
        }

        /** "tables" or "databases". */
        public String groups() {
            return groups;
        }
    }

    Unit unit();

    /**
     * Tables: the source's connector opens the {@link SourceSession}, the target's the {@link TargetSession}, and core's
     * worker copies, streams, validates and keeps the bookkeeping on the target.
     */
    record Rows() implements EnginePipeline {
        @Override
        public Unit unit() {
            return Unit.ROWS;
        }
    }

    /**
     * An engine that moves data its own way (Redis: a replica's full sync, then the command stream) and keeps its own
     * bookkeeping, in the same worker shape (phases, claim, status, control API) as the row engines.
     */
    non-sealed interface OwnWorker extends EnginePipeline {
        /** The worker `migrator run` drives. */
        Worker worker();

        /** What the target keeps about the migration while no worker runs (status, wait). */
        MigrationStatus storedStatus();

        /** The worker holding the migration's claim, as it registered itself; empty when none runs. */
        Optional<WorkerRecord> registeredWorker();

        /** Parity without a worker: nothing is in flight towards the target, so what is read is what is there. */
        ValidationReport validate(boolean repair);

        /**
         * Ends the migration on the source, before {@link #complete}: after a cutover, the lasting freeze lifted (the old
         * source is the DBA's again); what was released. Nothing by default.
         */
        default List<String> release() {
            return List.of();
        }

        /** Ends the migration: removes its bookkeeping; what was removed. */
        List<String> complete();

        /** Cut over, with a reverse direction that streams into the old source: `complete` asks for --yes before it ends that. */
        default boolean rollbackPossible() {
            return false;
        }

        /** What {@link #release} and {@link #complete} would do now, read without changing anything (`complete --dry-run`). */
        default List<String> completionPreview() {
            return List.of("the migration's bookkeeping on the target");
        }

        @Override
        default Unit unit() {
            return Unit.KEYS;
        }
    }
}
