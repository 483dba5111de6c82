package io.migrator.cli;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.ExitCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.observe.StatusJson;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.run.MigrationState;
import io.migrator.core.schema.TableDef;
import io.migrator.core.spi.EngineConnectors;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.validate.Fence;
import io.migrator.core.validate.ValidationReport;
import io.migrator.core.validate.ValidationService;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "validate", description = {"Row parity while traffic runs: checksums computed inside both databases per key range,",
        "ranges that differ bisected down to rows, each suspect row rechecked after the target applied past the source",
        "position read at check time; only differences that survive are reported (missing, extra, different columns).",
        "When the worker runs, it validates (its applier is the fence and the repair path); otherwise this command does.",
        "Redis: key parity per database (SCAN, TYPE, PTTL, DUMP; values compared by type when only the encoding differs).",
        "Exit 0 parity, 5 mismatch found (also when --repair repaired it), 4 inconclusive or the copy is not finished."},
        footer = {"", "Examples:", "  migrator validate plan.yaml", "  migrator validate plan.yaml --tables orders,customers -o json",
                "  migrator validate plan.yaml --repair"})
final class ValidateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path planFile;

    @Option(names = "--tables", split = ",", paramLabel = "TABLE", description = "Only these tables (glob patterns, comma-separated).")
    List<String> tables;

    @Option(names = "--repair", description = "Repair the rows found different, through the apply path, and check them again.")
    boolean repair;

    @Override
    public Integer call() throws InterruptedException {
        Output output = CommandSupport.output(spec);
        Plan plan = new PlanLoader().load(planFile);
        ValidationReport report;
        if (plan.source().engine() == io.migrator.core.plan.Engine.REDIS) {
            if (tables != null && !tables.isEmpty()) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--tables does not apply to Redis: the plan's "
                        + "source.databases choose what is compared");
            }
            try (WorkerClient client = new WorkerClient(plan)) {
                if (client.live() != null) { // its applied replication offset is the recheck's fence
                    output.progress().println("validating through the worker at " + client.base() + " ...");
                    report = client.validate(List.of(), repair);
                } else {
                    report = EngineConnectors.discover().forEngine(plan.source().engine()).validateKeys(plan, repair);
                }
            }
        } else {
            report = rows(plan, output);
        }
        return finish(report, output, plan.source().engine() == io.migrator.core.plan.Engine.REDIS ? "keys" : "rows");
    }

    /** Tables: through the worker when one answers (its applier is the fence and the repair path), else directly. */
    private ValidationReport rows(Plan plan, Output output) throws InterruptedException {
        try (WorkerClient client = new WorkerClient(plan)) {
            if (client.live() != null) {
                output.progress().println("validating through the worker at " + client.base() + " ...");
                return client.validate(tables == null ? List.of() : tables, repair);
            }
            return offline(plan, output);
        }
    }

    private int finish(ValidationReport report, Output output, String unit) {
        if (output.json()) {
            output.out().println(StatusJson.write(report));
        } else {
            print(report, output, unit);
        }
        if (report.mismatchCount() > 0) {
            return ExitCode.MISMATCH.code();
        }
        if (!report.ok()) {
            output.progress().println(output.warn("inconclusive: ") + report.note());
            return ExitCode.PRECONDITION.code();
        }
        return 0;
    }

    /** No worker runs: nothing is in flight towards the target, so a second read is the fence and repairs apply directly. */
    private ValidationReport offline(Plan plan, Output output) throws InterruptedException {
        EngineConnectors connectors = EngineConnectors.discover();
        try (SourceSession source = connectors.forEngine(plan.source().engine()).openSource(plan);
             TargetSession target = connectors.forEngine(plan.target().engine()).openTarget(plan)) {
            MigrationState state = target.loadState().orElse(null);
            // A worker that streams moves its checkpoint with every batch (heartbeats: twice a second). If one does and does
            // not answer at control.listen, validating around it would miss its fence and race its applier.
            java.time.Duration age = target.checkpointAge().orElse(null);
            if (age != null && age.compareTo(java.time.Duration.ofSeconds(5)) < 0) {
                var first = target.checkpoint();
                Thread.sleep(1_500);
                if (!first.equals(target.checkpoint())) {
                    throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "a worker is applying changes to the target (its checkpoint "
                            + "moves) but none answers at " + plan.control().listen(), "validate through that worker: give this plan the "
                            + "control.listen it was started with (or its --listen), or stop it first");
                }
            }
            if (state != null) {
                ValidationService.requireCopied(state.phase(), state.detail());
                output.progress().println("no worker runs for " + plan.name() + ": validating directly (the target is as the worker left it)");
            } else if (repair) {
                throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "migration " + plan.name() + " has not run against this target, "
                        + "so there is no apply path to repair through", "validate without --repair, or start `migrator run " + planFile + "`");
            } else {
                output.progress().println("no migration " + plan.name() + " is recorded on the target: comparing the databases as they are");
            }
            List<TableDef> chosen = ValidationService.tables(plan, source, tables);
            return ValidationService.run(plan, source, target, chosen, Fence.NOTHING_IN_FLIGHT, (table, keys) -> {
                var at = target.checkpoint().orElse(state.startPosition());
                target.apply(source.readRows(table, keys), at, 0);
            }, ValidationService.options(plan, repair));
        }
    }

    private static void print(ValidationReport report, Output output, String unit) {
        var out = output.out();
        for (ValidationReport.TableResult t : report.tables()) {
            String verdict = t.mismatches().isEmpty() && t.unsettled().isEmpty() ? output.good("equal")
                    : t.mismatches().isEmpty() ? output.warn("unsettled") : output.bad(t.mismatches().size() + " different");
            out.println(String.format(Locale.ROOT, "%-40s %10d %s  %s", t.table(), t.rowsCompared(), unit, verdict));
            for (ValidationReport.Mismatch m : t.mismatches()) {
                out.println("  " + m.kind() + " " + m.key() + (m.columns().isEmpty() ? "" : " columns " + String.join(", ", m.columns()))
                        + (report.repair() ? (m.repaired() ? "  repaired" : "  NOT repaired") : ""));
            }
            for (var key : t.unsettled()) {
                out.println("  unsettled " + key);
            }
        }
        String parity = report.parityPercent() == null ? "" : String.format(Locale.ROOT, ", parity %.4f%%", report.parityPercent());
        out.println(report.state() + ": " + report.rowsCompared() + " " + unit + " compared, " + report.mismatchCount() + " mismatches" + parity);
    }
}
