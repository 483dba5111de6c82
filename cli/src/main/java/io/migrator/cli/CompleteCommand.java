package io.migrator.cli;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.run.Migrations;
import io.migrator.core.spi.EnginePipeline;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "complete", description = {"Ends the migration: drops what it holds on the source (PostgreSQL: the replication slot, so",
        "the source stops keeping WAL for it, and the publication; the heartbeat row) and its bookkeeping on the target.",
        "The migrated tables stay. Refuses while a worker of the plan runs: stop it first (SIGTERM).",
        "After a cutover it ends reverse replication (asking for --yes while a rollback is still possible) and the lasting",
        "freeze of the old source (the application's logins unlocked, read_only off).",
        "Refuses while a worker runs, and inside an interrupted cutover (the worker finishes or undoes it first)."},
        footer = {"", "Examples:", "  migrator complete plan.yaml --dry-run", "  migrator complete plan.yaml", "  migrator complete plan.yaml -o json"})
final class CompleteCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path planFile;

    @picocli.CommandLine.Option(names = "--yes", description = "Complete even while a rollback is still possible (reverse replication "
            + "runs after a cutover): it ends reverse replication, and with it the way back.")
    boolean yes;

    @picocli.CommandLine.Option(names = "--dry-run", description = "Say what complete would drop and remove, change nothing; refused in the "
            + "same cases as complete itself (a running worker, an interrupted cutover, a possible rollback without --yes).")
    boolean dryRun;

    @Override
    public Integer call() {
        Output output = CommandSupport.output(spec);
        Plan plan = new PlanLoader().load(planFile);
        try (WorkerClient client = new WorkerClient(plan)) {
            if (client.live() != null) {
                throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "a worker of " + plan.name() + " runs at " + client.base(),
                        "stop it first (SIGTERM: it checkpoints and exits 0), then run `migrator complete` again");
            }
            var claimed = client.claimedBy(); // runs, but its API cannot be reached from here
            if (claimed.isPresent()) {
                throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "a worker of " + plan.name() + " holds its claim on the target ("
                        + claimed.get().describe() + ")", "stop it first (SIGTERM: it checkpoints and exits 0), then run `migrator complete` "
                        + "again");
            }
        }
        Migrations migrations = Migrations.discover();
        if (!yes && migrations.rollbackPossible(plan)) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "migration " + plan.name() + " is cut over and its reverse replication "
                    + "keeps the old source ready for `migrator rollback`: complete ends it, and no rollback is possible afterwards",
                    "if the new server has proven itself, run `migrator complete " + planFile + " --yes`; to go back instead, `migrator run` "
                            + "and `migrator rollback`");
        }
        Migrations.Completion completion = dryRun ? migrations.completionPreview(plan) : migrations.complete(plan);
        List<String> released = completion.released();
        List<String> removed = completion.removed();
        if (dryRun) {
            return preview(output, plan, released, removed);
        }
        if (output.json()) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("ok", true);
            json.put("name", plan.name());
            json.put("released", released);
            json.put("removed", removed);
            output.json(json);
        } else {
            released.forEach(r -> output.out().println("source: dropped " + r));
            removed.forEach(r -> output.out().println("target: removed " + r));
            output.out().println(output.good("completed") + " " + plan.name() + (released.isEmpty() && removed.isEmpty()
                    ? ": nothing was left to drop" : completion.unit() == EnginePipeline.Unit.KEYS ? ": the migrated keys stay on the target"
                    : ": the migrated tables stay on the target"));
        }
        return 0;
    }

    private static int preview(Output output, Plan plan, List<String> released, List<String> removed) {
        if (output.json()) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("ok", true);
            json.put("dryRun", true);
            json.put("name", plan.name());
            json.put("released", released);
            json.put("removed", removed);
            output.json(json);
            return 0;
        }
        released.forEach(r -> output.out().println("source: would drop " + r));
        removed.forEach(r -> output.out().println("target: would remove " + r));
        output.out().println("dry run: nothing was changed" + (released.isEmpty() && removed.isEmpty() ? "; nothing is left to drop for "
                + plan.name() : "; `migrator complete` without --dry-run does the above"));
        return 0;
    }
}
