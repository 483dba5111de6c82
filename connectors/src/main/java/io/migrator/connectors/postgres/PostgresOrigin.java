package io.migrator.connectors.postgres;

import io.migrator.core.plan.Plan;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replication origins: what a direction's applier writes on its target is marked with the origin
 * {@code migrator:<direction>} (the session's {@code pg_replication_origin_session_setup}), and the direction that streams
 * out of that server the other way skips every transaction so marked ({@link #writtenByOpposite}). Reverse replication
 * starts at the cutover's fence, after everything the forward applier wrote, so the positions alone already keep a change
 * from going round; the origin is the second, independent guard, and it holds wherever both directions run at once.
 *
 * <p>The login needs EXECUTE on the origin functions (a superuser has it; elsewhere {@code GRANT EXECUTE ON FUNCTION
 * pg_replication_origin_session_setup(text), pg_replication_origin_session_reset(), pg_replication_origin_oid(text),
 * pg_replication_origin_create(text), pg_replication_origin_drop(text) TO ...}); without it the writes go unmarked, said
 * once. Only one session may have an origin set up at a time: the applier keeps one connection for it
 * ({@link PostgresTarget}). PostgreSQL 16's {@code origin = none} is not asked for: it would also drop what another
 * replication wrote into the source (a source that is itself a subscriber), which this migration must carry.
 */
final class PostgresOrigin {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresOrigin.class);
    static final String PREFIX = "migrator:";
    private static final Pattern HOLDER = Pattern.compile("PID (\\d+)");
    private static final long WARN_EVERY_NANOS = 60_000_000_000L;

    private final String name;
    /** Whether the login may use origins here (null: not asked yet). */
    private Boolean permitted;
    private long warned;

    PostgresOrigin(String migration) {
        this.name = name(migration);
    }

    /** The origin a direction's applier marks its writes with. */
    static String name(String migration) {
        return PREFIX + migration;
    }

    String name() {
        return name;
    }

    /**
     * Whether a transaction replayed from {@code origin} was written by migrator's applier of the direction opposite to
     * {@code migration}: its reverse direction, or — for a reverse direction — the forward one. Those must not go back.
     */
    static boolean writtenByOpposite(String origin, String migration) {
        if (origin == null || !origin.startsWith(PREFIX)) {
            return false;
        }
        String by = origin.substring(PREFIX.length());
        return Plan.reverseName(by).equals(migration) || Plan.reverseName(migration).equals(by);
    }

    /**
     * Marks the session of {@code c} (autocommit, outside any transaction) so the transactions it commits carry this
     * direction's origin. Never fails the apply: where the origin cannot be set up, the writes go unmarked and that is
     * logged. Returns whether the session is marked.
     */
    boolean tag(Connection c) {
        try {
            if (permitted == null) {
                permitted = prepare(c);
            }
            if (!permitted) {
                return false;
            }
            for (int attempt = 0; ; attempt++) {
                try (PreparedStatement ps = c.prepareStatement("SELECT pg_replication_origin_session_setup(?)")) {
                    ps.setString(1, name);
                    ps.execute();
                    return true;
                } catch (SQLException e) {
                    if ("55000".equals(e.getSQLState())) {
                        return isSetUp(c); // this session has it already, or the server refuses origins (max_replication_slots = 0)
                    }
                    if (!"55006".equals(e.getSQLState()) || attempt >= 20) {
                        throw e;
                    }
                    // another session holds it: the applier's earlier connection, cut and not yet noticed by its server
                    // process (only this direction's applier uses this origin, and the worker's lease makes it the only one)
                    Matcher m = HOLDER.matcher(String.valueOf(e.getMessage()));
                    if (attempt == 10 && m.find()) {
                        LOG.info("ending the server session {} that still holds the origin {} (a connection of this applier that was cut)",
                                m.group(1), name);
                        try (PreparedStatement end = c.prepareStatement("SELECT pg_terminate_backend(?)")) {
                            end.setInt(1, Integer.parseInt(m.group(1)));
                            end.execute();
                        }
                    }
                    Thread.sleep(250);
                }
            }
        } catch (SQLException e) {
            warn("could not mark the applier's session with the replication origin " + name + ": " + e.getMessage());
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static boolean isSetUp(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_replication_origin_session_is_setup()")) {
            rs.next();
            if (!rs.getBoolean(1)) {
                throw new SQLException("the server refuses replication origins (max_replication_slots = 0?)", "55000");
            }
            return true;
        }
    }

    /** Takes the mark off the session of {@code c} before it goes back to the pool; false if the connection failed. */
    static boolean untag(Connection c) {
        try (Statement st = c.createStatement()) {
            st.execute("SELECT pg_replication_origin_session_reset() WHERE pg_replication_origin_session_is_setup()");
            return true;
        } catch (SQLException e) {
            LOG.debug("could not take the replication origin off a session (the connection is discarded): {}", e.getMessage());
            return false;
        }
    }

    /** Whether the login may use origins here; makes this direction's origin if missing. */
    private boolean prepare(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT "
                + "has_function_privilege('pg_replication_origin_session_setup(text)', 'EXECUTE') "
                + "AND has_function_privilege('pg_replication_origin_session_reset()', 'EXECUTE') "
                + "AND has_function_privilege('pg_replication_origin_session_is_setup()', 'EXECUTE') "
                + "AND has_function_privilege('pg_replication_origin_oid(text)', 'EXECUTE')")) {
            rs.next();
            if (!rs.getBoolean(1)) {
                LOG.info("the target's login may not use replication origins: what the applier writes is not marked as migrator's "
                        + "(reverse replication starts after it anyway, at the cutover's fence); to mark it, GRANT EXECUTE ON FUNCTION "
                        + "pg_replication_origin_session_setup(text), pg_replication_origin_session_reset(), "
                        + "pg_replication_origin_session_is_setup(), pg_replication_origin_oid(text), pg_replication_origin_create(text), "
                        + "pg_replication_origin_drop(text) to it");
                return false;
            }
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_replication_origin_oid(?) IS NULL")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    return true;
                }
            }
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_replication_origin_create(?)")) {
            ps.setString(1, name);
            ps.execute();
        } catch (SQLException e) {
            if (!"23505".equals(e.getSQLState())) { // made meanwhile
                LOG.info("could not make the replication origin {} on the target ({}): what the applier writes is not marked as "
                        + "migrator's (reverse replication starts after it anyway, at the cutover's fence)", name, e.getMessage());
                return false;
            }
        }
        LOG.info("made the replication origin {} on the target: the applier's writes carry it", name);
        return true;
    }

    /** Drops this direction's origin on the server of {@code c} (its migration forgotten); what went, or empty. */
    static String drop(Connection c, String migration) {
        String name = name(migration);
        try (PreparedStatement ps = c.prepareStatement("SELECT EXISTS (SELECT FROM pg_replication_origin WHERE roname = ?) "
                + "AND has_function_privilege('pg_replication_origin_drop(text)', 'EXECUTE')")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    return ""; // none made here (a login without the right never made one)
                }
            }
        } catch (SQLException e) {
            LOG.debug("could not read the replication origins: {}", e.getMessage());
            return "";
        }
        for (int attempt = 0; ; attempt++) {
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin "
                    + "WHERE roname = ?")) {
                ps.setString(1, name);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? "replication origin " + name : "";
                }
            } catch (SQLException e) {
                // in use: the applier's session ended a moment ago and its server process is still going
                if (!"55006".equals(e.getSQLState()) || attempt >= 20) {
                    LOG.warn("could not drop the replication origin {} (drop it by hand: SELECT pg_replication_origin_drop('{}')): {}",
                            name, name, e.getMessage());
                    return "";
                }
                try {
                    Thread.sleep(250);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    return "";
                }
            }
        }
    }

    private void warn(String message) {
        long now = System.nanoTime();
        if (warned == 0 || now - warned > WARN_EVERY_NANOS) {
            warned = now;
            LOG.warn("{}; this transaction goes unmarked (reverse replication starts after it anyway, at the cutover's fence)", message);
        }
    }
}
