package io.migrator.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "wait", description = "Blocks until a condition holds: a phase, lag below a duration, or validated.",
        footer = {"", "Examples:", "  migrator wait plan.yaml --for STREAMING --timeout 30m", "  migrator wait plan.yaml --for 'lag<2s'",
                "  migrator wait plan.yaml --for validated"})
final class WaitCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path plan;

    @Option(names = "--for", required = true, paramLabel = "PHASE|lag<DURATION|validated", description = "The condition.")
    String condition;

    @Option(names = "--timeout", paramLabel = "DURATION", description = "Give up after this long (exit 4).")
    String timeout;

    @Override
    public Integer call() {
        throw PendingCapability.notYet("wait", "the lag and status capability");
    }
}
