package io.migrator.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "complete", description = "Ends the migration: stops reverse replication, drops slots, heartbeat and bookkeeping.",
        footer = {"", "Examples:", "  migrator complete plan.yaml"})
final class CompleteCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path plan;

    @Override
    public Integer call() {
        throw PendingCapability.notYet("complete", "the cutover capability");
    }
}
