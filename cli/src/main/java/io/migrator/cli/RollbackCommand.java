package io.migrator.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "rollback", description = "Switches back to the source using reverse replication.",
        footer = {"", "Examples:", "  migrator rollback plan.yaml"})
final class RollbackCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path plan;

    @Override
    public Integer call() {
        throw PendingCapability.notYet("rollback", "reverse replication and rollback");
    }
}
