package io.migrator.connectors.mysql;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.error.RetriableException;
import java.sql.SQLException;

/** Classifies MySQL/MariaDB errors: connection loss, deadlocks and lock timeouts are retried; the rest is reported. */
final class MySqlErrors {
    private MySqlErrors() {
    }

    static MigratorException translate(String doing, SQLException e) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        int code = e.getErrorCode();
        String message = doing + " failed: " + (e.getMessage() == null ? "" : e.getMessage().split("\n")[0])
                + " (SQLState " + state + ", error " + code + ")";
        if (state.startsWith("08") || io.migrator.connectors.jdbc.JdbcErrors.connectionLost(e) || state.equals("40001") || code == 1213 || code == 1205 || code == 1020 || code == 2013 || code == 2006) {
            return new RetriableException(ErrorCode.CANNOT_CONNECT, message, "migrator retries this; if it persists, check the server", e);
        }
        if (code == 1142 || code == 1044 || code == 1045 || state.startsWith("28")) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, message,
                    "grant the migrator user what it needs (`migrator plan check` prints the GRANT statements)", e);
        }
        if (code == 1153 || code == 1301) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, message, "a row is larger than the server's max_allowed_packet: "
                    + "raise max_allowed_packet on the target (and the source) to at least the largest row, e.g. SET GLOBAL "
                    + "max_allowed_packet = 268435456, then run again", e);
        }
        if (code == 1406 || code == 1264 || code == 1366 || code == 1292 || code == 1265) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, message,
                    "the target column cannot hold the source value: make the target column match the source definition", e);
        }
        return new MigratorException(ErrorCode.INTERNAL, message, "run with -vv and look at the server's error log", e);
    }
}
