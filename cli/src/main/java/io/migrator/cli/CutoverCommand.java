package io.migrator.cli;

import io.migrator.core.plan.Durations;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.state.CutoverReport;
import io.migrator.core.state.StatusJson;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "cutover", description = {"The cutover runbook, performed by the running worker (it owns the stream):",
        "preconditions; then inside the write-freeze budget: freeze the source, read the fence position inside the freeze",
        "and wait until the target applied it, verify the rows changed since the last clean validation, raise sequences /",
        "AUTO_INCREMENT, create the triggers on the target, switch the traffic (cutover.switch), lock the old source for good.",
        "Each step is printed as it completes. A failure or overrun before the first switch step aborts: the source is",
        "writable again and streaming goes on.",
        "Exit 0 cut over, 4 aborted within budget or a precondition failed (source writable again), 1 failed after the switch",
        "began (run cutover again: it goes on forward)."},
        footer = {"", "Examples:", "  migrator cutover plan.yaml --dry-run", "  migrator cutover plan.yaml --max-downtime 3s -o json"})
final class CutoverCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path plan;

    @Option(names = "--dry-run", description = "Run every precondition and predict each step's duration; freeze and change nothing.")
    boolean dryRun;

    @Option(names = "--max-downtime", paramLabel = "DURATION", description = "Write-freeze budget (default: the plan's cutover.maxDowntime).")
    String maxDowntime;

    @Override
    public Integer call() throws InterruptedException {
        return run(spec, plan, dryRun, maxDowntime, "cutover");
    }

    /** `cutover` and `rollback` alike: the runbook started on the worker, its steps printed as they complete, its exit code. */
    static int run(CommandSpec spec, Path plan, boolean dryRun, String maxDowntime, String kind) throws InterruptedException {
        Output output = CommandSupport.output(spec);
        Plan loaded = new PlanLoader().load(plan);
        if (maxDowntime != null) {
            try {
                if (Durations.parse(maxDowntime).isNegative() || Durations.parse(maxDowntime).isZero()) {
                    throw new IllegalArgumentException("must be longer than zero");
                }
            } catch (RuntimeException e) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--max-downtime '" + maxDowntime
                        + "' is not a duration longer than zero (e.g. 500ms, 2s)");
            }
        }
        try (WorkerClient client = new WorkerClient(loaded)) {
            CutoverReport report = client.startRunbook(kind, dryRun, maxDowntime);
            if (report.dryRun() != dryRun) {
                throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.CUTOVER_PRECONDITION, "a "
                        + (report.dryRun() ? "dry run" : kind) + " of " + loaded.name() + " is running", "wait until it finishes, then run this one");
            }
            int printed = 0;
            while (true) {
                if (!output.json()) {
                    for (; printed < report.steps().size(); printed++) {
                        print(output, report.steps().get(printed));
                    }
                }
                if (report.finished()) {
                    break;
                }
                Thread.sleep(100);
                report = client.runbookReport(kind);
            }
            return finish(output, report, kind.equals("rollback"));
        }
    }

    private static void print(Output output, CutoverReport.Step step) {
        String verdict = step.ok() ? output.good("ok") : output.bad("FAILED");
        output.out().println(String.format(Locale.ROOT, "%-18s %6d ms  %s", step.name(), step.millis(), verdict));
        if (step.detail() != null && !step.detail().isBlank()) {
            for (String line : step.detail().split("\n")) {
                output.out().println("    " + line);
            }
        }
    }

    private static int finish(Output output, CutoverReport report, boolean rollback) {
        if (output.json()) {
            output.out().println(StatusJson.write(report));
            return report.exitCode();
        }
        var out = output.out();
        if (report.dryRun()) {
            out.println(report.ok() ? output.good("dry run: every precondition holds") + ", predicted within the " + report.budgetMillis() + " ms budget"
                    : output.bad("dry run: the cutover would not start or not fit: ") + (report.error() == null ? "" : report.error().message()));
        } else if (report.ok()) {
            out.println(output.good(rollback ? "rolled back" : "cut over") + ": writes were frozen for " + report.writeFreezeMillis() + " ms (budget "
                    + report.budgetMillis() + " ms); " + (rollback ? "the old source takes the application's writes again, and they stream "
                    + "forward to the target" : "the target takes the application's writes"));
        } else if (report.aborted()) {
            out.println(output.warn("aborted") + (report.writeFreezeMillis() > 0 ? " after a " + report.writeFreezeMillis() + " ms freeze" : "")
                    + (rollback ? ": the new server takes writes, reverse replication goes on" : ": the source takes writes, streaming goes on"));
        } else {
            out.println(output.bad("FAILED") + ": `migrator status` shows the phase; the remedy below says what to do");
        }
        if (report.error() != null && !report.ok()) {
            output.progress().println(report.error().code() + ": " + report.error().message());
            if (report.error().remedy() != null) {
                output.progress().println("remedy: " + report.error().remedy());
            }
        }
        return report.exitCode();
    }
}
