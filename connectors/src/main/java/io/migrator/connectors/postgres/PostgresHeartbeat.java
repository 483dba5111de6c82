package io.migrator.connectors.postgres;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source's heartbeat, written every second by the stream: so lag stays true and the slot keeps advancing when the
 * plan's tables are idle. On PostgreSQL 14 and later a logical decoding message ({@link #MESSAGE_PREFIX}); before, a
 * one-row-per-migration table in the {@code migrator} schema of the source database, whose changes travel through the
 * slot like any other. The table is made on every version; before 14 the cutover's fence writes it too (on 14+ its
 * marker is a transactional message, {@link #fenceMessageQuery}).
 */
final class PostgresHeartbeat {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresHeartbeat.class);
    static final String SCHEMA = "migrator";
    static final String TABLE = "heartbeat";
    static final String TABLE_SQL = PostgresDialect.quote(SCHEMA) + "." + PostgresDialect.quote(TABLE);

    private PostgresHeartbeat() {
    }

    /** Creates the table when missing; false (and a warning) when the user may not, so lag is then measured without it. */
    static boolean ensureTable(Connection c, String migration) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("CREATE SCHEMA IF NOT EXISTS " + PostgresDialect.quote(SCHEMA));
            st.execute("CREATE TABLE IF NOT EXISTS " + TABLE_SQL + " (migration text PRIMARY KEY, ts timestamptz NOT NULL)");
            st.execute(query(migration));
            return true;
        } catch (SQLException e) {
            if ("42501".equals(e.getSQLState())) {
                LOG.warn("cannot create {} on the source ({}): before PostgreSQL 14 a cutover's fence needs it, and lag on idle "
                        + "tables is then only as fresh as the last change; GRANT CREATE ON DATABASE to the migrator user to have it",
                        TABLE_SQL, e.getMessage());
                return false;
            }
            throw e;
        }
    }

    static boolean exists(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); var rs = st.executeQuery("SELECT to_regclass('" + SCHEMA + "." + TABLE + "') IS NOT NULL")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    /**
     * PostgreSQL 14+: the heartbeat is a non-transactional logical decoding message with this prefix, whose content is the
     * source's clock in epoch milliseconds; the stream asks for messages and each one moves its position between
     * transactions (PgOutputTransactions). No row is written, and no table is needed for it.
     */
    static final String MESSAGE_PREFIX = "migrator:heartbeat";

    /** The first PostgreSQL version whose pgoutput sends logical decoding messages (the {@code messages} option). */
    static final int MESSAGES_SINCE = 14;

    static String messageQuery() {
        return "SELECT pg_logical_emit_message(false, '" + MESSAGE_PREFIX + "', (extract(epoch FROM clock_timestamp()) * 1000)::bigint::text)";
    }

    /**
     * Whether the stream reads logical decoding messages from this server (14+, unless
     * {@code -Dmigrator.pgoutput.messages=off}): then the heartbeat and the cutover's fence are messages, and neither needs the
     * table.
     */
    static boolean messages(Connection c) throws SQLException {
        return c.getMetaData().getDatabaseMajorVersion() >= MESSAGES_SINCE && !"off".equals(System.getProperty("migrator.pgoutput.messages"));
    }

    /** The prefix of the cutover fence's message: transactional, so its commit is the event past the fence the stream carries. */
    static final String FENCE_PREFIX = "migrator:fence";

    /** The fence's marker as a transactional logical decoding message (PostgreSQL 14+): no row written, no table needed. */
    static String fenceMessageQuery(String migration) {
        return "SELECT pg_logical_emit_message(true, '" + FENCE_PREFIX + "', '" + migration.replace("'", "''") + "')";
    }

    static String query(String migration) {
        return "INSERT INTO " + TABLE_SQL + " (migration, ts) VALUES ('" + migration.replace("'", "''")
                + "', clock_timestamp()) ON CONFLICT (migration) DO UPDATE SET ts = EXCLUDED.ts";
    }
}
