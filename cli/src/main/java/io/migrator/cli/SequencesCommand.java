package io.migrator.cli;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.run.Migrations;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "sequences", description = {"Brings the target's sequences up to the source's values now (PostgreSQL), for the moment",
        "before traffic moves to the target. Never lowers one, so it is safe while the worker runs (which does the same every 5 s)",
        "and after the target took writes. Other engines have no sequences to move: nothing happens."},
        footer = {"", "Examples:", "  migrator sequences plan.yaml", "  migrator sequences plan.yaml -o json"})
final class SequencesCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path planFile;

    @Override
    public Integer call() {
        Output output = CommandSupport.output(spec);
        Plan plan = new PlanLoader().load(planFile);
        List<String> moved = Migrations.discover().syncSequences(plan);
        if (output.json()) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("ok", true);
            json.put("name", plan.name());
            json.put("moved", moved);
            output.json(json);
        } else {
            moved.forEach(m -> output.out().println("target: " + m));
            output.out().println(output.good("ok") + " " + plan.name() + ": " + (moved.isEmpty()
                    ? "every target sequence is at or beyond the source's value" : moved.size() + " sequence(s) brought up to the source"));
        }
        return 0;
    }
}
