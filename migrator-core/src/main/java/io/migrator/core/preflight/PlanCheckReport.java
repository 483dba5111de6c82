package io.migrator.core.preflight;

import io.migrator.core.spi.Assessment;
import java.util.List;

/** What `migrator plan check` found: the servers it reached and every assessment. */
public record PlanCheckReport(String plan, String name, List<EndpointCheck> endpoints, List<Assessment> assessments) {
    public PlanCheckReport {
        endpoints = List.copyOf(endpoints);
        assessments = List.copyOf(assessments);
    }

    /** One side of the plan: the address (never the password), whether it answered and what it is. */
    public record EndpointCheck(String role, String engine, String address, boolean reachable, String server,
                                String version, String error, String remedy) {
    }

    public boolean allReachable() {
        return endpoints.stream().allMatch(EndpointCheck::reachable);
    }

    public boolean preflightPassed() {
        return assessments.stream().noneMatch(a -> a.severity() == Assessment.Severity.FAIL);
    }

    public boolean ok() {
        return allReachable() && preflightPassed();
    }

    /**
     * Why the plan cannot run, or null when it can: the first server that did not answer ({@code CANNOT_CONNECT}), else
     * every failed assessment with its remedy ({@code PREFLIGHT_FAILED}).
     */
    public io.migrator.core.error.MigratorException failure() {
        for (EndpointCheck e : endpoints) {
            if (!e.reachable()) {
                return new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.CANNOT_CONNECT, e.error(), e.remedy());
            }
        }
        List<Assessment> failed = assessments.stream().filter(a -> a.severity() == Assessment.Severity.FAIL).toList();
        if (failed.isEmpty()) {
            return null;
        }
        StringBuilder message = new StringBuilder(failed.size() + " preflight assessment(s) failed");
        for (Assessment a : failed) {
            message.append("\n  ").append(a.role().id()).append(' ').append(a.check()).append(": ").append(a.finding());
            if (!a.remedy().isEmpty()) {
                message.append("\n    remedy: ").append(a.remedy());
            }
        }
        return new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.PREFLIGHT_FAILED, message.toString(),
                "fix each problem as its remedy says, then run again; `migrator plan check " + plan + "` lists every check");
    }
}
