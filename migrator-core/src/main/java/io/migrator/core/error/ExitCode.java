package io.migrator.core.error;

/** The process exit codes of the CLI contract (shared/design/CLI.md). Scripts depend on these numbers. */
public enum ExitCode {
    OK(0, "success"),
    FAILURE(1, "failure (the message says what failed)"),
    USAGE(2, "usage error: unknown command or option"),
    INVALID_PLAN(3, "the plan file is invalid (every problem is listed with line:column)"),
    PRECONDITION(4, "a precondition is not met (preflight failed, timed out, cutover aborted within budget)"),
    MISMATCH(5, "row or key parity mismatch found"),
    CANNOT_CONNECT(6, "cannot connect to a source, target or worker"),
    INTERRUPTED(130, "interrupted; state was saved");

    private final int code;
    private final String meaning;

    ExitCode(int code, String meaning) {
        this.code = code;
        this.meaning = meaning;
    }

    public int code() {
        return code;
    }

    public String meaning() {
        return meaning;
    }
}
