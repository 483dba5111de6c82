package io.migrator.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "validate", description = "Row parity (or Redis key parity) while traffic runs; exit 5 on mismatch.",
        footer = {"", "Examples:", "  migrator validate plan.yaml", "  migrator validate plan.yaml --tables orders,customers -o json",
                "  migrator validate plan.yaml --repair"})
final class ValidateCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path plan;

    @Option(names = "--tables", split = ",", paramLabel = "TABLE", description = "Only these tables.")
    List<String> tables;

    @Option(names = "--repair", description = "Repair the rows found different, through the apply path, and check them again.")
    boolean repair;

    @Override
    public Integer call() {
        throw PendingCapability.notYet("validate", "the row parity capability");
    }
}
