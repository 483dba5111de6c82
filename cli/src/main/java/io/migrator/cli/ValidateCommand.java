package io.migrator.cli;

import io.migrator.core.error.ExitCode;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.run.Migrations;
import io.migrator.core.spi.EnginePipeline;
import io.migrator.core.state.StatusJson;
import io.migrator.core.state.ValidationReport;
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
        Migrations migrations = Migrations.discover();
        EnginePipeline.Unit unit = migrations.unit(plan);
        if (unit == EnginePipeline.Unit.KEYS && tables != null && !tables.isEmpty()) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--tables does not apply to a migration of keys: the "
                    + "plan's source.databases choose what is compared");
        }
        List<String> patterns = tables == null ? List.of() : tables;
        ValidationReport report;
        // through the worker when one answers: its applied position is the recheck's fence, its applier the repair path
        try (WorkerClient client = new WorkerClient(plan)) {
            if (client.live() != null) {
                output.progress().println("validating through the worker at " + client.base() + " ...");
                report = client.validate(patterns, repair);
            } else {
                report = migrations.validateWithoutWorker(plan, patterns, repair, output.progress()::println);
            }
        }
        return finish(report, output, unit.items());
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
