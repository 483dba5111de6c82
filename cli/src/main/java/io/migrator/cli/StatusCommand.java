package io.migrator.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "status", description = "Phase, per-table progress, lag, throughput, last validation, cutover readiness.",
        footer = {"", "Examples:", "  migrator status plan.yaml", "  migrator status plan.yaml -o json", "  migrator status plan.yaml --watch"})
final class StatusCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path plan;

    @Option(names = "--watch", description = "Refresh until interrupted.")
    boolean watch;

    @Override
    public Integer call() {
        throw PendingCapability.notYet("status", "the lag and status capability");
    }
}
