package io.migrator.core.validate;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.observe.StatusJson;
import io.migrator.core.plan.Glob;
import io.migrator.core.plan.Plan;
import io.migrator.core.run.MigrationStatus;
import io.migrator.core.run.Phase;
import io.migrator.core.schema.TableDef;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
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

    /** Refuses to validate before the copy is done: until then, differences are expected and meaningless. */
    public static void requireCopied(Phase phase) {
        requireCopied(phase, null);
    }

    /** As above; a FAILED migration counts as copied only when it failed after the copy ({@code detail}: "failed in PHASE: ..."). */
    public static void requireCopied(Phase phase, String detail) {
        boolean failedAfterCopy = phase == Phase.FAILED && detail != null
                && (detail.startsWith("failed in CATCH_UP") || detail.startsWith("failed in STREAMING"));
        if (phase == Phase.CUTTING_OVER || phase == Phase.CUT_OVER || phase == Phase.COMPLETED || phase == Phase.ROLLED_BACK) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the migration is in phase " + phase + ": the target takes its own "
                    + "writes now, so it no longer mirrors the source", "validate before the cutover; after it, compare with your "
                    + "application's own checks");
        }
        if (phase != Phase.CATCH_UP && phase != Phase.STREAMING && !failedAfterCopy) {
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

    public static Validator.Options options(Plan plan, boolean repair) {
        Validator.Options d = Validator.Options.defaults();
        return new Validator.Options(plan.validation().chunkRows(), plan.validation().parallelism(), repair, d.fenceTimeout(), d.recheckRounds());
    }

    /** The status view of a stored validation. */
    public static MigrationStatus.Validation summary(ValidationRecord record) {
        return new MigrationStatus.Validation(record.state(), record.mismatches(), record.parityPercent(), record.finishedAt(), false);
    }
}
