package io.migrator.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "cutover", description = {"The cutover runbook: freeze, drain, verify, switch, open the target.",
        "Exit 0 cut over, 4 aborted within budget (source writable again), 1 failed."},
        footer = {"", "Examples:", "  migrator cutover plan.yaml --dry-run", "  migrator cutover plan.yaml --max-downtime 10s -o json"})
final class CutoverCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path plan;

    @Option(names = "--dry-run", description = "Check every step's preconditions; change nothing.")
    boolean dryRun;

    @Option(names = "--max-downtime", paramLabel = "DURATION", description = "Write-freeze budget (default: the plan's cutover.maxDowntime).")
    String maxDowntime;

    @Override
    public Integer call() {
        throw PendingCapability.notYet("cutover", "the cutover capability");
    }
}
