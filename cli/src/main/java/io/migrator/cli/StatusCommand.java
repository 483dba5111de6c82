package io.migrator.cli;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.run.Migrations;
import io.migrator.core.spi.EnginePipeline;
import io.migrator.core.state.MigrationStatus;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "status", description = {"Phase, per-table progress, lag, throughput, last validation, cutover readiness.",
        "Asks the worker at the plan's control.listen; when none runs, reads the durable state on the target (lag is then unknown).",
        "With -o json: the CLI.md status document (one per line with --watch)."},
        footer = {"", "Examples:", "  migrator status plan.yaml", "  migrator status plan.yaml -o json", "  migrator status plan.yaml --watch"})
final class StatusCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path planFile;

    @Option(names = "--watch", description = "Refresh every --interval until interrupted.")
    boolean watch;

    @Option(names = "--interval", paramLabel = "DURATION", defaultValue = "1s", description = "Refresh interval with --watch (default: ${DEFAULT-VALUE}).")
    String interval;

    @Override
    public Integer call() throws InterruptedException {
        Output output = CommandSupport.output(spec);
        long every = Math.max(100, CommandSupport.duration(spec, "--interval", interval).toMillis());
        Plan plan = new PlanLoader().load(planFile);
        boolean clear = watch && !output.json() && System.console() != null;
        EnginePipeline.Unit unit = Migrations.discover().unit(plan);
        try (WorkerClient client = new WorkerClient(plan)) {
            do {
                MigrationStatus status = client.status();
                if (output.json()) {
                    output.out().println(io.migrator.core.state.StatusJson.write(status));
                } else {
                    if (clear) {
                        output.out().print("\u001b[H\u001b[2J");
                    }
                    StatusView.print(status, output, output.out(), unit);
                    if (watch && !clear) {
                        output.out().println();
                    }
                }
                output.out().flush();
                if (watch) {
                    Thread.sleep(every);
                }
            } while (watch);
        }
        return 0;
    }
}
