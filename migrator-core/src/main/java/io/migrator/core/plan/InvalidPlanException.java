package io.migrator.core.plan;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.util.List;

/** All the problems of one plan, reported at once. */
public class InvalidPlanException extends MigratorException {
    private static final long serialVersionUID = 1L;

    private final transient List<PlanProblem> problems;

    public InvalidPlanException(String file, List<PlanProblem> problems) {
        super(ErrorCode.PLAN_INVALID, problems.size() == 1 ? "1 problem in plan " + file
                : problems.size() + " problems in plan " + file,
                "fix each problem at the line:column shown, then run `migrator plan check " + file + "` again");
        this.problems = List.copyOf(problems);
    }

    public List<PlanProblem> problems() {
        return problems;
    }

    /** The summary and every problem, one a line (the CLI prints them itself; this serves logs and test reports). */
    @Override
    public String toString() {
        StringBuilder text = new StringBuilder(getClass().getSimpleName()).append(": ").append(getMessage());
        problems.forEach(p -> text.append("\n  ").append(p.render()));
        return text.toString();
    }
}
