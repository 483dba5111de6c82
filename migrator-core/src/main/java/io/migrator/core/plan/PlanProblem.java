package io.migrator.core.plan;

/** One problem found in a plan file, where it is, and what to do about it. */
public record PlanProblem(String file, int line, int column, String message, String remedy) {
    public PlanProblem(String file, Mark mark, String message, String remedy) {
        this(file, mark.line(), mark.column(), message, remedy);
    }

    /** {@code plans/orders.yaml:4:3: unknown key 'hots' in source (remedy: ...)}. */
    public String render() {
        String where = line > 0 ? file + ":" + line + ":" + column : file;
        return where + ": " + message + (remedy == null || remedy.isBlank() ? "" : " (remedy: " + remedy + ")");
    }
}
