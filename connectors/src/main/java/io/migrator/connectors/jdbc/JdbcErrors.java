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
        var tls = io.migrator.core.tls.TlsErrors.explain(e, role.id(), endpoint);
        if (tls.isPresent()) {
            return tls.get();
        }
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

    /**
     * Whether the connection itself was lost (a server restarting or failing over, a reset or timed-out socket, a pool
     * with no live connection), whatever the driver's SQLState says: worth retrying on a new connection.
     */
    public static boolean connectionLost(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SQLException sql && (sql.getSQLState() != null && sql.getSQLState().startsWith("28") || sql.getErrorCode() == 1045)) {
                return false; // refused credentials (a pool wraps them too): no reconnect makes them right
            }
        }
        if (io.migrator.core.tls.TlsErrors.isTlsRefusal(e)) {
            return false; // a certificate the plan does not trust stays untrusted on every reconnect
        }
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.sql.SQLRecoverableException || t instanceof java.sql.SQLTransientConnectionException
                    || t instanceof java.sql.SQLNonTransientConnectionException || t instanceof java.io.IOException) {
                return true;
            }
            if (t instanceof SQLException sql && sql.getSQLState() != null && sql.getSQLState().startsWith("08")) {
                return true;
            }
            String m = t.getMessage() == null ? "" : t.getMessage();
            if (m.contains("Connection is closed") || m.contains("This connection has been closed") || m.contains("Connection is not available")
                    || m.contains("An I/O error occurred") || m.contains("Communications link failure") || m.contains("Read timed out")) {
                return true;
            }
        }
        return false;
    }

    /**
     * Rolls back after a failure without hiding it: a connection that died with the failure cannot roll back either (the
     * server did it), and that second error is only attached to the first.
     */
    public static void rollbackAfter(java.sql.Connection c, Throwable failure) {
        try {
            c.rollback();
        } catch (SQLException rollback) {
            failure.addSuppressed(rollback);
        }
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
