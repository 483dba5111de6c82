package io.migrator.core.error;

/** A failure worth trying again: a dropped connection, a deadlock, a serialization failure. */
public class RetriableException extends MigratorException {
    private static final long serialVersionUID = 1L;

    public RetriableException(ErrorCode code, String message, String remedy, Throwable cause) {
        super(code, message, remedy, cause);
    }
}
