package io.migrator.core.validate;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Glob;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import io.migrator.core.spi.Fence;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.state.MigrationState;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import io.migrator.core.state.StatusJson;
import io.migrator.core.state.ValidationRecord;
import io.migrator.core.state.ValidationReport;
import java.util.List;

/** One validation as `migrator validate` and the worker run it: pick the tables, validate, store the outcome on the target. */
public final class ValidationService {
    private ValidationService() {
    }

    /** The plan's tables, narrowed to those matching any of {@code patterns} (empty: all); unknown patterns are an error. */
    public static List<TableDef> tables(Plan plan, SourceSession source, List<String> patterns) {
        List<TableDef> all = source.tables(plan.tables());
        if (patterns == null || patterns.isEmpty()) {
            return all;
        }
        List<Glob> globs = patterns.stream().map(Glob::compile).toList();
        List<TableDef> chosen = all.stream().filter(t -> globs.stream().anyMatch(g -> g.matches(t.id().schema(), t.id().name()))).toList();
        if (chosen.isEmpty()) {
            throw new MigratorException(ErrorCode.PLAN_INVALID, "--tables " + String.join(",", patterns) + " matches none of the plan's tables ("
                    + String.join(", ", all.stream().map(t -> t.id().name()).toList()) + ")", "name tables of the plan, e.g. --tables orders,'cust*'");
        }
        return chosen;
    }

    /**
     * Refuses to validate before the copy is done (until then, differences are expected and meaningless) and after the
     * cutover (the target takes its own writes). A FAILED migration counts as copied when it failed after the copy.
     */
    public static void requireCopied(Phase phase) {
        requireCopied(new MigrationState("", phase, null, java.time.Instant.now(), null));
    }

    /** As above, for a migration as stored on its target. */
    public static void requireCopied(MigrationState state) {
        Phase phase = state.phase();
        if (phase == Phase.CUTTING_OVER || phase == Phase.CUT_OVER || phase == Phase.COMPLETED || phase == Phase.ROLLED_BACK) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the migration is in phase " + phase + ": the target takes its own "
                    + "writes now, so it no longer mirrors the source", "validate before the cutover; after it, compare with your "
                    + "application's own checks");
        }
        if (!state.copied()) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the migration is in phase " + phase + ": the copy is not finished, so "
                    + "the target is expected to differ", "validate once the migration reached CATCH_UP or STREAMING "
                    + "(`migrator wait PLAN --for STREAMING`)");
        }
    }

    public static ValidationReport run(Plan plan, SourceSession source, TargetSession target, List<TableDef> tables, Fence fence,
                                       Validator.Repairer repairer, Validator.Options options) throws InterruptedException {
        ValidationReport report = new Validator(source, target, fence, repairer, options).validate(tables);
        target.saveValidation(new ValidationRecord(report.state(), report.startedAt(), report.finishedAt(), report.rowsCompared(),
                report.mismatchCount(), report.parityPercent(), StatusJson.write(report)));
        return report;
    }

    /**
     * A validation with no worker running: nothing is in flight towards the target, so a second read is the fence, and
     * repairs apply directly at the stored checkpoint. Refused while a worker holds the migration's claim (it streams:
     * validating around it would miss its fence and race its applier) and, for {@code repair}, when the migration never ran
     * against this target. {@code progress} hears what was decided, for the user.
     */
    public static ValidationReport withoutWorker(Plan plan, SourceSession source, TargetSession target, List<String> patterns,
                                                 boolean repair, java.util.function.Consumer<String> progress) throws InterruptedException {
        java.util.Optional<io.migrator.core.state.WorkerRecord> worker = target.registeredWorker();
        if (worker.isPresent()) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "a worker of " + plan.name() + " is applying changes to the target ("
                    + worker.get().describe() + ") but none answers at " + plan.control().listen(), "validate through that worker: give "
                    + "this plan the control.listen it was started with (or its --listen), or stop it first");
        }
        MigrationState state = target.loadState().orElse(null);
        if (state != null) {
            requireCopied(state);
            progress.accept("no worker runs for " + plan.name() + ": validating directly (the target is as the worker left it)");
        } else if (repair) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "migration " + plan.name() + " has not run against this target, "
                    + "so there is no apply path to repair through", "validate without --repair, or start `migrator run " + plan.file() + "`");
        } else {
            progress.accept("no migration " + plan.name() + " is recorded on the target: comparing the databases as they are");
        }
        return run(plan, source, target, tables(plan, source, patterns), Fence.NOTHING_IN_FLIGHT, (table, keys) -> {
            var at = target.checkpoint().orElse(state.startPosition());
            target.apply(source.readRows(table, keys), at, 0);
        }, options(plan, repair));
    }

    public static Validator.Options options(Plan plan, boolean repair) {
        Validator.Options d = Validator.Options.defaults();
        return new Validator.Options(plan.validation().chunkRows(), plan.validation().parallelism(), repair, d.fenceTimeout(), d.recheckRounds());
    }

    /** The status view of a stored validation. */
    public static MigrationStatus.Validation summary(ValidationRecord record) {
        return new MigrationStatus.Validation(record.state(), record.mismatches(), record.parityPercent(), record.finishedAt(), false);
    }
}
