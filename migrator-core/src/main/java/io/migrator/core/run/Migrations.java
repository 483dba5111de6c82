package io.migrator.core.run;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.spi.EngineConnectors;
import io.migrator.core.spi.EnginePipeline;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.spi.Worker;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.ValidationReport;
import io.migrator.core.state.WorkerRecord;
import io.migrator.core.validate.ValidationService;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Where the commands meet the engines: for a plan, core asks the source's connector how it moves data
 * ({@link EnginePipeline}) and drives that answer, so the CLI never asks which engine a plan names. Row engines get
 * core's {@link Migration} over their sessions; engines with a worker of their own are driven through it.
 */
public final class Migrations {
    private final EngineConnectors connectors;

    public Migrations(EngineConnectors connectors) {
        this.connectors = connectors;
    }

    public static Migrations discover() {
        return new Migrations(EngineConnectors.discover());
    }

    public EnginePipeline pipeline(Plan plan) {
        return connectors.forEngine(plan.source().engine()).pipeline(plan);
    }

    /** Rows of tables, or keys of databases: how reports name what the plan moves. */
    public EnginePipeline.Unit unit(Plan plan) {
        return pipeline(plan).unit();
    }

    /** A worker ready to run, and what it holds open until closed. */
    public record OpenWorker(Worker worker, AutoCloseable resources) implements AutoCloseable {
        @Override
        public void close() {
            try {
                resources.close();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("closing the worker's sessions failed: " + e, e);
            }
        }
    }

    /** The worker of `migrator run`: core's row migration over fresh sessions, or the engine's own worker. */
    public OpenWorker open(Plan plan) {
        if (pipeline(plan) instanceof EnginePipeline.OwnWorker own) {
            return new OpenWorker(own.worker(), () -> { });
        }
        return openRows(plan, this::openReverse);
    }

    /** A reverse direction's worker: the same row migration, run by the forward worker once it is cut over. */
    public OpenWorker openReverse(Plan reversed) {
        return openRows(reversed, null);
    }

    private OpenWorker openRows(Plan plan, java.util.function.Function<Plan, OpenWorker> reverse) {
        SourceSession source = openSource(plan);
        TargetSession target;
        try {
            target = openTarget(plan);
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
        return new OpenWorker(new Migration(plan, source, target, reverse), () -> {
            try (source; target) {
                // both close, the target first
            }
        });
    }

    /** What the target keeps of a migration while no worker serves it: status and the registered worker. */
    public StoredMigration stored(Plan plan) {
        return new StoredMigration(plan, pipeline(plan), () -> openTarget(plan));
    }

    /** What `migrator complete` dropped on each side. */
    public record Completion(List<String> released, List<String> removed, EnginePipeline.Unit unit) {
    }

    /**
     * Ends the migration: drops what it holds on the source (a replication slot and publication, its heartbeat row) and its
     * bookkeeping on the target; the migrated data stays. The caller has checked that no worker runs.
     */
    public Completion complete(Plan plan) {
        EnginePipeline pipeline = pipeline(plan);
        if (pipeline instanceof EnginePipeline.OwnWorker own) {
            if (own.storedStatus().phase() == io.migrator.core.state.Phase.CUTTING_OVER) {
                throw insideCutover(plan);
            }
            List<String> released = own.release(); // first: what it gives back may be kept in the bookkeeping complete removes
            return new Completion(released, own.complete(), own.unit());
        }
        try (SourceSession source = openSource(plan); TargetSession target = openTarget(plan)) {
            var state = target.loadState().orElse(null);
            java.util.List<String> released = new java.util.ArrayList<>();
            if (state != null && (state.phase() == io.migrator.core.state.Phase.CUTTING_OVER
                    || state.phase() == io.migrator.core.state.Phase.FAILED && state.failedIn() == io.migrator.core.state.Phase.CUTTING_OVER)) {
                throw insideCutover(plan);
            }
            if (state != null && state.phase() == io.migrator.core.state.Phase.CUT_OVER) {
                released.addAll(completeReverse(plan)); // first: its bookkeeping shares the old source's migrator database
                // the lasting freeze ends with the migration: the old source is the DBA's again
                released.add(io.migrator.core.cutover.Runbook.endLastingFreeze(plan, source));
            } else if (state != null && plan.cutover().reverse()) {
                // a cutover refused or killed right after making the reverse direction's slot on the target leaves it there
                try (SourceSession newServer = openSource(plan.reversed())) {
                    released.addAll(newServer.releaseStream().stream().map(r -> "on the target, left by a cutover attempt: " + r).toList());
                }
            }
            released.addAll(source.release(plan.name()));
            return new Completion(released, target.forget(), pipeline.unit());
        }
    }

    /**
     * What {@link #complete} would do now, read without changing anything: the same refusals (inside a cutover), then
     * what it would release on the source (released) and remove on the target (removed).
     */
    public Completion completionPreview(Plan plan) {
        EnginePipeline pipeline = pipeline(plan);
        if (pipeline instanceof EnginePipeline.OwnWorker own) {
            if (own.storedStatus().phase() == io.migrator.core.state.Phase.CUTTING_OVER) {
                throw insideCutover(plan);
            }
            return new Completion(List.of(), own.completionPreview(), own.unit());
        }
        try (SourceSession source = openSource(plan); TargetSession target = openTarget(plan)) {
            var state = target.loadState().orElse(null);
            if (state != null && (state.phase() == io.migrator.core.state.Phase.CUTTING_OVER
                    || state.phase() == io.migrator.core.state.Phase.FAILED && state.failedIn() == io.migrator.core.state.Phase.CUTTING_OVER)) {
                throw insideCutover(plan);
            }
            List<String> released = new java.util.ArrayList<>();
            if (state != null && state.phase() == io.migrator.core.state.Phase.CUT_OVER) {
                Plan reversed = plan.reversed();
                try (SourceSession newServer = openSource(reversed); TargetSession oldSource = openTarget(reversed)) {
                    if (oldSource.loadState().isPresent()) {
                        released.add("reverse replication " + reversed.name() + " ends (no rollback afterwards): the old source's triggers "
                                + "created again");
                    }
                    released.addAll(newServer.held(reversed.name()).stream().map(r -> "reverse, on the new server: " + r).toList());
                    released.addAll(oldSource.kept().stream().map(r -> "reverse, on the old source: " + r).toList());
                }
                released.add(io.migrator.core.cutover.Runbook.lastingFreezeEnd(plan));
            }
            released.addAll(source.held(plan.name()));
            return new Completion(released, target.kept(), pipeline.unit());
        }
    }

    /**
     * Whether a rollback is still possible: the migration is cut over and its reverse direction streams into the old
     * source (its state there is not itself cut over). `complete` asks for --yes before it ends that.
     */
    public boolean rollbackPossible(Plan plan) {
        if (pipeline(plan) instanceof EnginePipeline.OwnWorker own) {
            return own.rollbackPossible();
        }
        if (!(pipeline(plan) instanceof EnginePipeline.Rows) || !plan.cutover().reverse()) {
            return false;
        }
        try (TargetSession target = openTarget(plan)) {
            var state = target.loadState().orElse(null);
            if (state == null || state.phase() != io.migrator.core.state.Phase.CUT_OVER) {
                return false;
            }
        }
        try (TargetSession oldSource = openTarget(plan.reversed())) {
            var reverse = oldSource.loadState().orElse(null);
            return reverse != null && reverse.phase() != io.migrator.core.state.Phase.CUT_OVER;
        }
    }

    /**
     * Ends reverse replication after a cutover: the old source's triggers on the plan's tables created again (they were
     * dropped while it took replayed rows), the reverse stream's heartbeat and id on the new server and its bookkeeping on
     * the old source removed. Nothing when no reverse direction ever started.
     */
    private List<String> completeReverse(Plan plan) {
        Plan reversed = plan.reversed();
        List<String> done = new java.util.ArrayList<>();
        try (SourceSession source = openSource(reversed); TargetSession target = openTarget(reversed)) {
            if (target.loadState().isEmpty()) {
                // no reverse direction ever streamed: only what a cutover made for it before its freeze (a slot) is left
                done.addAll(source.releaseStream().stream().map(r -> "reverse (never started): " + r).toList());
                return done;
            }
            done.add("reverse replication ended; on the old source: " + target.openForWrites());
            done.addAll(source.release(reversed.name()).stream().map(r -> "reverse: " + r).toList());
            done.addAll(target.forget().stream().map(r -> "reverse, on the old source: " + r).toList());
        }
        return done;
    }

    private static MigratorException insideCutover(Plan plan) {
        return new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "migration " + plan.name() + " stopped inside a cutover: its "
                + "journal on the target says whether the cutover goes forward or is undone, and complete would drop it",
                "start the worker (`migrator run " + plan.file() + "`): it finishes or undoes the cutover; then complete");
    }

    /**
     * Brings every target sequence up to the source's value now (never lowers one); what moved. Engines without sequences
     * (and without tables) move nothing.
     */
    public List<String> syncSequences(Plan plan) {
        if (!(pipeline(plan) instanceof EnginePipeline.Rows)) {
            return List.of();
        }
        try (TargetSession target = openTarget(plan)) {
            return target.syncSequences();
        }
    }

    /** The worker that holds the migration's claim now, as it registered itself; empty when none runs. */
    public Optional<WorkerRecord> registeredWorker(Plan plan) {
        try (StoredMigration stored = stored(plan)) {
            return stored.registeredWorker();
        }
    }

    SourceSession openSource(Plan plan) {
        return connectors.forEngine(plan.source().engine()).openSource(plan);
    }

    TargetSession openTarget(Plan plan) {
        return connectors.forEngine(plan.target().engine()).openTarget(plan);
    }

    /** A migration as its target keeps it; row engines hold one target session open for repeated reads (wait polls). */
    public static final class StoredMigration implements AutoCloseable {
        private final Plan plan;
        private final EnginePipeline pipeline;
        private final java.util.function.Supplier<TargetSession> opener;
        private TargetSession target;

        StoredMigration(Plan plan, EnginePipeline pipeline, java.util.function.Supplier<TargetSession> opener) {
            this.plan = plan;
            this.pipeline = pipeline;
            this.opener = opener;
        }

        public MigrationStatus status() {
            return pipeline instanceof EnginePipeline.OwnWorker own ? own.storedStatus() : DurableStatus.read(plan, target());
        }

        public Optional<WorkerRecord> registeredWorker() {
            return pipeline instanceof EnginePipeline.OwnWorker own ? own.registeredWorker() : target().registeredWorker();
        }

        private TargetSession target() {
            if (target == null) {
                target = opener.get();
            }
            return target;
        }

        @Override
        public void close() {
            if (target != null) {
                target.close();
                target = null;
            }
        }
    }

    /**
     * Parity with no worker running (the CLI asked the plan's worker first): tables through core's validator over fresh
     * sessions, or the engine's own comparison. {@code patterns} narrow the tables; an engine without tables refuses them.
     */
    public ValidationReport validateWithoutWorker(Plan plan, List<String> patterns, boolean repair, Consumer<String> progress)
            throws InterruptedException {
        EnginePipeline pipeline = pipeline(plan);
        if (pipeline instanceof EnginePipeline.OwnWorker own) {
            return own.validate(repair);
        }
        try (SourceSession source = openSource(plan); TargetSession target = openTarget(plan)) {
            return ValidationService.withoutWorker(plan, source, target, patterns, repair, progress);
        }
    }
}
