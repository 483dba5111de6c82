package io.migrator.core.error;

/** Renders docs/error-codes.md from {@link ErrorCode}: one section per code, with cause and solution. */
public final class ErrorCodeReference {
    private ErrorCodeReference() {
    }

    public static String markdown() {
        StringBuilder out = new StringBuilder();
        out.append("# Error codes\n\n")
                .append("Generated from `io.migrator.core.error.ErrorCode` (a test keeps it in sync). ")
                .append("With `-o json` every error is `{\"ok\": false, \"error\": {\"code\", \"message\", \"remedy\"}}`; ")
                .append("`code` is one of the names below.\n\n")
                .append("## Exit codes\n\n| exit | meaning |\n|---|---|\n");
        for (ExitCode exit : ExitCode.values()) {
            out.append("| ").append(exit.code()).append(" | ").append(exit.meaning()).append(" |\n");
        }
        out.append("\n## Codes\n");
        for (ErrorCode code : ErrorCode.values()) {
            out.append("\n### ").append(code.name()).append("\n\n")
                    .append("Exit code ").append(code.exitCode().code()).append(".\n\n")
                    .append("*Caused by:* ").append(code.cause()).append("\n\n")
                    .append("*Solution:* ").append(code.solution()).append("\n");
        }
        return out.toString();
    }
}
