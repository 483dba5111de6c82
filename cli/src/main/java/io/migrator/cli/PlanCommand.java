package io.migrator.cli;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.InvalidPlanException;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.plan.PlanProblem;
import io.migrator.core.preflight.PlanCheckReport;
import io.migrator.core.preflight.PlanChecker;
import io.migrator.core.spi.Assessment;
import io.migrator.core.spi.EngineConnectors;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "plan", description = "Works with plan files.", subcommands = PlanCommand.Check.class)
final class PlanCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "check", description = {"Checks a plan: every static problem with line:column, then connectivity",
            "to source and target, then the engines' preflight assessments."},
            footer = {"", "Examples:", "  migrator plan check plans/mariadb-to-mariadb.yaml",
                    "  migrator plan check plans/redis-to-redis-cluster.yaml -o json",
                    "  migrator plan check plan.yaml --static   # no connections"})
    static final class Check implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "PLAN", description = "The plan file (YAML).")
        Path planFile;

        @Option(names = "--static", description = "Only the static checks; do not connect.")
        boolean staticOnly;

        @Option(names = "--connect-timeout", paramLabel = "DURATION", defaultValue = "10s",
                description = "How long to wait for each server (default: ${DEFAULT-VALUE}).")
        String connectTimeout;

        @Override
        public Integer call() {
            Output output = CommandSupport.output(spec);
            Duration timeout = CommandSupport.duration(spec, "--connect-timeout", connectTimeout); // before anything is read
            Plan plan;
            try {
                plan = new PlanLoader().load(planFile);
            } catch (InvalidPlanException e) {
                printProblems(output, e);
                return e.exitCode().code();
            }
            if (staticOnly) {
                if (output.json()) {
                    output.json(Map.of("ok", true, "plan", planFile.toString(), "name", plan.name(), "problems", List.of()));
                } else {
                    output.out().println(output.good("ok: ") + planFile + " is a valid plan (" + plan.name() + ": "
                            + plan.source().engine() + " → " + plan.target().engine() + ")");
                }
                return 0;
            }
            PlanCheckReport report = new PlanChecker(EngineConnectors.discover(), timeout).check(plan);
            int exit = !report.allReachable() ? ErrorCode.CANNOT_CONNECT.exitCode().code()
                    : !report.preflightPassed() ? ErrorCode.PREFLIGHT_FAILED.exitCode().code() : 0;
            if (output.json()) {
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("ok", report.ok());
                if (!report.ok()) {
                    MigratorException e = report.failure();
                    doc.put("error", Map.of("code", e.code().name(), "message", e.getMessage(), "remedy", e.remedy()));
                }
                doc.put("plan", report.plan());
                doc.put("name", report.name());
                doc.put("problems", List.of());
                doc.put("endpoints", report.endpoints());
                doc.put("assessments", report.assessments());
                output.json(doc);
            } else {
                printReport(output, plan, report);
            }
            return exit;
        }

        private void printProblems(Output output, InvalidPlanException e) {
            if (output.json()) {
                Map<String, Object> extra = new LinkedHashMap<>();
                extra.put("plan", planFile.toString());
                extra.put("problems", e.problems());
                output.error(e, extra);
                return;
            }
            for (PlanProblem p : e.problems()) {
                output.out().println(p.render());
            }
            output.out().println(output.bad("invalid: ") + e.getMessage());
        }

        private void printReport(Output output, Plan plan, PlanCheckReport report) {
            output.out().println("plan " + report.plan() + ": " + plan.name() + " (" + plan.source().engine() + " → "
                    + plan.target().engine() + "), no static problems");
            for (PlanCheckReport.EndpointCheck e : report.endpoints()) {
                if (e.reachable()) {
                    output.out().printf("  %-6s %-10s %-22s %s %s %s%n", e.role(), e.engine(), e.address(), output.good("reachable"),
                            e.server(), e.version());
                } else {
                    output.out().printf("  %-6s %-10s %-22s %s%n         %s%n         remedy: %s%n", e.role(), e.engine(), e.address(),
                            output.bad("UNREACHABLE"), e.error(), e.remedy());
                }
            }
            for (Assessment a : report.assessments()) {
                String mark = switch (a.severity()) {
                    case OK -> output.good("ok  ");
                    case WARN -> output.warn("warn");
                    case FAIL -> output.bad("FAIL");
                };
                output.out().printf("  %s %-6s %s: %s%n", mark, a.role().id(), a.check(), a.finding());
                if (!a.remedy().isEmpty()) {
                    output.out().println("         remedy: " + a.remedy());
                }
            }
            if (report.ok()) {
                output.out().println(output.good("ok: ") + "the plan is valid and both servers answer");
            } else {
                MigratorException e = report.failure(); // its first line: the assessments above say the rest
                output.out().println(output.bad("not ready: ") + e.getMessage().lines().findFirst().orElse(""));
            }
        }
    }
}
