package io.migrator.connectors.postgres;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.error.RetriableException;
import java.sql.SQLException;

/** Classifies PostgreSQL errors by SQLState: connection loss, deadlocks and serialization failures are retried. */
final class PostgresErrors {
    private PostgresErrors() {
    }

    static MigratorException translate(String doing, SQLException e) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String message = doing + " failed: " + (e.getMessage() == null ? "" : e.getMessage().split("\n")[0]) + " (SQLState " + state + ")";
        if (state.startsWith("08") || io.migrator.connectors.jdbc.JdbcErrors.connectionLost(e) || state.equals("40001") || state.equals("40P01") || state.equals("57P01") || state.equals("57P03")
                || state.equals("53300")) {
            return new RetriableException(ErrorCode.CANNOT_CONNECT, message, "migrator retries this; if it persists, check the server", e);
        }
        if (state.equals("42501") || state.startsWith("28")) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, message,
                    "grant the migrator user what it needs; `migrator plan check` lists the privileges", e);
        }
        if (state.startsWith("22") || state.equals("23502") || state.equals("23514")) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, message,
                    "the target column cannot hold the source value: make the target table match the source definition", e);
        }
        return new MigratorException(ErrorCode.INTERNAL, message, "run with -vv and look at the server's log", e);
    }
}
