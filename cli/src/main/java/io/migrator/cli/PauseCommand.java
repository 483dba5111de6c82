package io.migrator.cli;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.state.MigrationStatus;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pause} and {@code resume}: thin clients of the worker's control API. */
final class PauseCommand {
    private PauseCommand() {
    }

    static int act(CommandSpec spec, Path planFile, String action) {
        Output output = CommandSupport.output(spec);
        Plan plan = new PlanLoader().load(planFile);
        try (WorkerClient client = new WorkerClient(plan)) {
            MigrationStatus status = client.post(action);
            if (output.json()) {
                output.out().println(io.migrator.core.state.StatusJson.write(status));
            } else {
                output.out().println("migration " + plan.name() + ": " + (status.paused() ? "paused" : "running") + " (phase " + status.phase() + ")");
            }
        }
        return 0;
    }

    /** The shared shape of both commands: a plan file in, the status after the action out. */
    abstract static class Action implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "PLAN", description = "The plan file.")
        Path planFile;

        abstract String action();

        @Override
        public Integer call() {
            return act(spec, planFile, action());
        }
    }

    @Command(name = "pause", description = {"Pauses a running worker: the copy and the applier stop at their next batch; the change",
            "backlog stays in the source's log and lag grows until `resume`. A restarted worker starts unpaused."},
            footer = {"", "Examples:", "  migrator pause plan.yaml"})
    static final class Pause extends Action {
        @Override
        String action() {
            return "pause";
        }
    }

    @Command(name = "resume", description = "Resumes a worker paused with `migrator pause`.", footer = {"", "Examples:", "  migrator resume plan.yaml"})
    static final class Resume extends Action {
        @Override
        String action() {
            return "resume";
        }
    }
}
