package io.migrator.connectors.jdbc;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;

/** How a change stream's end is judged: the source went away (reconnect) or something a reconnect cannot mend. */
public final class StreamEnds {
    private StreamEnds() {
    }

    /**
     * Whether the engine ended because the source went away (a restart, a failover, a cut or reset connection): the stream
     * is then started again from the target's checkpoint for as long as network.maxOutage allows. Anything else (a refused
     * change, a lost slot, a configuration error) stops the worker at once.
     */
    public static boolean sourceWentAway(String message, Throwable error) {
        if (error != null && io.migrator.core.tls.TlsErrors.isTlsRefusal(error)) {
            return false; // a certificate the plan does not trust: reconnecting meets the same certificate
        }
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t.getClass().getSimpleName().equals("ServerException")) {
                return false; // the server answered with an error (a purged binlog, a packet too large): reconnecting will not help
            }
            if (t instanceof java.io.IOException || t instanceof java.sql.SQLTransientConnectionException
                    || t instanceof java.sql.SQLNonTransientConnectionException
                    || t instanceof java.sql.SQLException sql && sql.getSQLState() != null
                    && (sql.getSQLState().startsWith("08") || sql.getSQLState().startsWith("57P"))) {
                return true;
            }
            String text = t.getMessage() == null ? "" : t.getMessage().toLowerCase(java.util.Locale.ROOT);
            if (text.contains("i/o error") || text.contains("connection refused") || text.contains("communications link failure")
                    || text.contains("terminating connection") || text.contains("connection reset") || text.contains("broken pipe")
                    || text.contains("the database system is") || text.contains("is active for pid")) {
                // the slot still held by the previous connection's walsender: it ends once the server notices (wal_sender_timeout)
                return true;
            }
        }
        String text = message == null ? "" : message.toLowerCase(java.util.Locale.ROOT);
        return error == null && (text.contains("connection refused") || text.contains("connection reset") || text.contains("i/o error"));
    }

    /** The failure that ended the stream: retriable (reconnect) when the source went away, final otherwise. */
    public static MigratorException stopped(ErrorCode code, String message, String remedy, String engineMessage, Throwable error) {
        return sourceWentAway(engineMessage, error) ? new io.migrator.core.error.RetriableException(code, message, remedy, error)
                : new MigratorException(code, message, remedy, error);
    }

    /** The failure that ended the stream, from the error alone. */
    public static MigratorException stopped(ErrorCode code, String message, String remedy, Throwable error) {
        return stopped(code, message, remedy, null, error);
    }
}
