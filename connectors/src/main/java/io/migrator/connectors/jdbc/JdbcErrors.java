package io.migrator.connectors.jdbc;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.spi.Role;
import java.sql.SQLException;

/** Turns a failed JDBC connection into an error that names the problem and the remedy, never the password. */
public final class JdbcErrors {
    private JdbcErrors() {
    }

    public static MigratorException connectFailed(Role role, Endpoint endpoint, SQLException e) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String where = role.id() + " " + endpoint.engine() + " at " + endpoint.address();
        String reason = scrub(e.getMessage(), endpoint);
        if (state.startsWith("28") || e.getErrorCode() == 1045 || reason.contains("password authentication failed")) {
            return new MigratorException(ErrorCode.CANNOT_CONNECT, where + " refused user '" + endpoint.user()
                    + "': wrong user or password (" + reason + ")",
                    "check " + role.id() + ".user and " + role.id() + ".password (and the ${env:...} or ${file:...} it reads)", e);
        }
        if (state.startsWith("08") || reason.contains("Connection refused") || reason.contains("connect timed out")
                || reason.contains("Socket fail to connect") || reason.contains("Could not connect")) {
            return new MigratorException(ErrorCode.CANNOT_CONNECT, "cannot reach " + where + ": " + reason,
                    "check that the server runs and listens on " + endpoint.address()
                            + " (firewall, security group, bind-address); for the sandbox: ./migrator sandbox up", e);
        }
        return new MigratorException(ErrorCode.CANNOT_CONNECT, "cannot connect to " + where + ": " + reason
                + (state.isEmpty() ? "" : " (SQLState " + state + ")"),
                "check host, port, user and password of " + role.id() + " in the plan", e);
    }

    /** Drivers may echo connection properties; make sure the password never travels on. */
    static String scrub(String message, Endpoint endpoint) {
        if (message == null) {
            return "no details from the driver";
        }
        String first = message.split("\n", 2)[0].strip();
        String secret = endpoint.password().reveal();
        return secret.isEmpty() ? first : first.replace(secret, "******");
    }
}
