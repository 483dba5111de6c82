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
}
