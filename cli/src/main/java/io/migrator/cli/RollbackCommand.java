package io.migrator.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "rollback", description = {"The cutover runbook backwards, performed by the running worker (it owns reverse",
        "replication, which carries the new server's writes into the old source after a cutover): preconditions; then inside",
        "the write-freeze budget: freeze the new server (cutover.freeze), read its position inside the freeze and wait until",
        "the old source applied it, verify the rows changed since the cutover, raise AUTO_INCREMENT, open the old source (its",
        "triggers and the application's logins back), switch the traffic back (cutover.switch, now pointing at the old",
        "source), lock the new server for good. Then the migration streams forward again from the old source, ready for",
        "another cutover. Exit codes as for cutover."},
        footer = {"", "Examples:", "  migrator rollback plan.yaml --dry-run", "  migrator rollback plan.yaml --max-downtime 3s -o json"})
final class RollbackCommand implements Callable<Integer> {
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
        return CutoverCommand.run(spec, plan, dryRun, maxDowntime, "rollback");
    }
}
