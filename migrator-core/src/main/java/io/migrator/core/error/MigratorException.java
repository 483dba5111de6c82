package io.migrator.core.error;

import java.util.Objects;

/**
 * A business error: it names the problem and the remedy, and maps to a CLI exit code.
 * Messages never carry a password or token.
 */
public class MigratorException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorCode code;
    private final String remedy;

    public MigratorException(ErrorCode code, String message, String remedy) {
        this(code, message, remedy, null);
    }

    public MigratorException(ErrorCode code, String message, String remedy, Throwable cause) {
        super(Objects.requireNonNull(message, "message"), cause);
        this.code = Objects.requireNonNull(code, "code");
        this.remedy = remedy == null || remedy.isBlank() ? code.solution() : remedy;
    }

    public ErrorCode code() {
        return code;
    }

    public String remedy() {
        return remedy;
    }

    public ExitCode exitCode() {
        return code.exitCode();
    }
}
