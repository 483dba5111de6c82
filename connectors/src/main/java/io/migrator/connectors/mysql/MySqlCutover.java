package io.migrator.connectors.mysql;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.SwitchStep;
import io.migrator.core.spi.CutoverCheck;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cutover's MySQL/MariaDB parts on the source: its preconditions (freeze privileges, write transactions that would
 * hold the freeze up, sessions around the proxy, the fence marker), the {@code read-only} freeze, and the lasting freeze
 * after the switch (the application's logins locked with ACCOUNT LOCK and their sessions ended; migrator's own login
 * keeps writing for reverse replication).
 */
final class MySqlCutover {
    private static final Logger LOG = LoggerFactory.getLogger(MySqlCutover.class);
    /** How long the preconditions wait for write transactions that would hold the freeze up. */
    private static final Duration LONG_TRANSACTION_WAIT = Duration.ofSeconds(10);
    /** ER_NONEXISTING_GRANT: SHOW GRANTS FOR a login that does not exist. */
    private static final int NO_SUCH_GRANT = 1141;

    private final Plan plan;
    private final DataSource pool;

    MySqlCutover(Plan plan, DataSource pool) {
        this.plan = plan;
        this.pool = pool;
    }

    List<CutoverCheck> sourceChecks(CutoverCheck.Context context) {
        List<CutoverCheck> checks = new ArrayList<>();
        try (Connection c = pool.getConnection()) {
            List<String> grants = grants(c, null);
            String freeze = plan.cutover().freeze();
            if ("lock-tables".equals(freeze)) {
                checks.add(has(grants, "LOCK TABLES") ? CutoverCheck.pass("freeze privilege", "LOCK TABLES held")
                        : CutoverCheck.fail("freeze privilege", "the migration user may not LOCK TABLES on `" + plan.source().database() + "`",
                        "GRANT LOCK TABLES ON `" + plan.source().database() + "`.* TO the migration user"));
            } else if ("read-only".equals(freeze)) {
                checks.add(readOnlyChecks(c, grants, context.applicationUsers()));
            }
            checks.add(transactions(c, context));
            checks.add(marker(c));
            checks.add(bypassing(c));
            for (String user : context.applicationUsers()) {
                List<String> appGrants = grants(c, user);
                if (appGrants == null) {
                    checks.add(CutoverCheck.fail("application login " + user, "does not exist on the source",
                            "name the application's logins in cutover.applicationUsers as user@host, as SHOW GRANTS FOR takes them"));
                }
            }
            if (!context.applicationUsers().isEmpty()) {
                checks.add(has(grants, "CREATE USER") || superOrAll(grants) ? CutoverCheck.pass("lasting freeze privilege", "CREATE USER held "
                        + "(ALTER USER ... ACCOUNT LOCK)") : CutoverCheck.fail("lasting freeze privilege", "the migration user may not lock the "
                        + "application's logins after the switch", "GRANT CREATE USER ON *.* TO the migration user, or remove cutover.applicationUsers"));
            } else if ("lock-tables".equals(plan.cutover().freeze())) {
                checks.add(CutoverCheck.warn("lasting freeze", "cutover.applicationUsers names no login: after the switch the old source stays "
                        + "frozen only while this worker runs (its table locks)", "list the application's logins in cutover.applicationUsers"));
            }
        } catch (SQLException e) {
            checks.add(CutoverCheck.fail("source", "the source did not answer the cutover checks: " + e.getMessage(), "check the source"));
        }
        return checks;
    }

    private CutoverCheck readOnlyChecks(Connection c, List<String> grants, List<String> users) throws SQLException {
        if (!superOrAll(grants) && !has(grants, "READ_ONLY ADMIN") && !has(grants, "SYSTEM_VARIABLES_ADMIN")) {
            return CutoverCheck.fail("freeze privilege", "SET GLOBAL read_only needs SUPER (or READ_ONLY ADMIN / SYSTEM_VARIABLES_ADMIN)",
                    "grant it, or use freeze: lock-tables (RDS and Aurora allow no SUPER)");
        }
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT @@global.read_only")) {
            if (rs.next() && rs.getInt(1) != 0) {
                return CutoverCheck.fail("freeze privilege", "the source is read_only already: an abort would not know to leave it so",
                        "SET GLOBAL read_only = OFF first, or use freeze: lock-tables");
            }
        }
        for (String user : users) {
            List<String> appGrants = grants(c, user);
            if (appGrants != null && (superOrAll(appGrants) || has(appGrants, "READ_ONLY ADMIN"))) {
                return CutoverCheck.fail("freeze privilege", "application login " + user + " holds SUPER / READ_ONLY ADMIN: read_only would not "
                        + "stop its writes", "revoke it from the application's login, or use freeze: lock-tables");
            }
        }
        return CutoverCheck.pass("freeze privilege", "SUPER held; read_only is OFF");
    }

    /** Write transactions open on the source longer than the budget would make the freeze wait; waits a while for them. */
    private CutoverCheck transactions(Connection c, CutoverCheck.Context context) throws SQLException {
        long limit = Math.max(1, context.maxDowntime().toSeconds());
        long until = System.nanoTime() + (context.dryRun() ? 0 : LONG_TRANSACTION_WAIT.toNanos());
        List<String> open;
        do {
            open = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT t.trx_mysql_thread_id, TIMESTAMPDIFF(SECOND, t.trx_started, NOW()), "
                    + "p.USER, p.HOST, t.trx_rows_modified FROM information_schema.INNODB_TRX t LEFT JOIN information_schema.PROCESSLIST p "
                    + "ON p.ID = t.trx_mysql_thread_id WHERE t.trx_started < NOW() - INTERVAL ? SECOND "
                    + "AND (t.trx_rows_modified > 0 OR t.trx_tables_locked > 0) AND t.trx_mysql_thread_id <> CONNECTION_ID()")) {
                ps.setLong(1, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        open.add("thread " + rs.getLong(1) + " (" + rs.getString(3) + "@" + rs.getString(4) + ", open " + rs.getLong(2)
                                + " s, " + rs.getLong(5) + " rows modified)");
                    }
                }
            }
            if (open.isEmpty() || System.nanoTime() > until) {
                break;
            }
            sleep(250);
        } while (true);
        if (open.isEmpty()) {
            return CutoverCheck.pass("long transactions", "no write transaction open longer than " + limit + " s");
        }
        return CutoverCheck.fail("long transactions", open.size() + " write transaction(s) open longer than the " + limit + " s budget: "
                + String.join(", ", open) + "; the freeze would queue behind them", "let them finish or end them (KILL <thread>; on RDS "
                + "CALL mysql.rds_kill(<thread>)), then cut over");
    }

    /** The fence marker: a write to migrator.heartbeat right after the fence position is read, so the stream passes it. */
    private CutoverCheck marker(Connection c) {
        try {
            writeMarker(c);
            return CutoverCheck.pass("fence marker", "migrator.heartbeat is writable");
        } catch (SQLException e) {
            return CutoverCheck.fail("fence marker", "cannot write migrator.heartbeat on the source (" + e.getMessage() + "): the drain could "
                    + "not prove the target reached the fence", "GRANT CREATE, INSERT, UPDATE ON `migrator`.* TO the migration user");
        }
    }

    void writeMarker(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE IF NOT EXISTS `" + SourceHeartbeat.DATABASE + "`");
            st.execute("CREATE TABLE IF NOT EXISTS `" + SourceHeartbeat.DATABASE + "`.`" + SourceHeartbeat.TABLE + "` (migration VARCHAR(64) "
                    + "PRIMARY KEY, ts DATETIME(6) NOT NULL) ENGINE=InnoDB");
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO `" + SourceHeartbeat.DATABASE + "`.`" + SourceHeartbeat.TABLE
                + "` (migration, ts) VALUES (?, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE ts = VALUES(ts)")) {
            ps.setString(1, plan.name());
            ps.executeUpdate();
        }
    }

    /** Sessions on the plan's database that do not come through the proxy the switch repoints: they would stay on the old source. */
    private CutoverCheck bypassing(Connection c) throws SQLException {
        Set<String> proxies = new LinkedHashSet<>();
        for (SwitchStep step : plan.cutover().switchSteps()) {
            if (step instanceof SwitchStep.Haproxy h) {
                String host = h.admin().substring(0, h.admin().lastIndexOf(':'));
                proxies.add(host);
                if (host.startsWith("127.") || host.equals("localhost")) {
                    proxies.add("localhost");
                    proxies.add("127.0.0.1");
                }
            }
        }
        if (proxies.isEmpty()) {
            return CutoverCheck.pass("sessions around the proxy", "no proxy switch step: not checked");
        }
        Set<String> around = new LinkedHashSet<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT USER, HOST FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() "
                + "AND USER <> SUBSTRING_INDEX(CURRENT_USER(), '@', 1)")) {
            ps.setString(1, plan.source().database());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String host = rs.getString(2) == null ? "" : rs.getString(2).replaceAll(":\\d+$", "");
                    if (!proxies.contains(host)) {
                        around.add(rs.getString(1) + "@" + host);
                    }
                }
            }
        }
        if (around.isEmpty()) {
            return CutoverCheck.pass("sessions around the proxy", "every session on `" + plan.source().database() + "` comes from " + proxies);
        }
        return CutoverCheck.warn("sessions around the proxy", "sessions on `" + plan.source().database() + "` from " + around + " do not come through "
                + "the proxy: the switch does not move them", "point those clients at the proxy, or list their logins in cutover.applicationUsers");
    }

    /** {@code SET GLOBAL read_only = ON} within the lock wait; transactions still open fail at their commit. */
    void freezeReadOnly(Connection c, Duration lockWait) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("SET SESSION lock_wait_timeout = " + Math.max(1, (lockWait.toMillis() + 999) / 1000));
            st.execute("SET GLOBAL read_only = ON");
        }
        LOG.info("writes frozen on the source (SET GLOBAL read_only = ON)");
    }

    void unfreezeReadOnly(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("SET GLOBAL read_only = OFF");
        }
        LOG.info("writes open again on the source (SET GLOBAL read_only = OFF)");
    }

    /** Locks the application's logins and ends their sessions: the lasting freeze that outlives this worker. */
    String lockLogins(List<String> users, boolean lock) {
        if (users.isEmpty()) {
            return "read-only".equals(plan.cutover().freeze()) ? "read_only stays ON on the old source (migrator's login keeps writing)"
                    : "no cutover.applicationUsers: the table locks stay held while this worker runs";
        }
        List<String> done = new ArrayList<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            for (String user : users) {
                st.execute("ALTER USER " + account(user) + " ACCOUNT " + (lock ? "LOCK" : "UNLOCK"));
                done.add(user);
            }
            int ended = 0;
            if (lock) {
                for (String user : users) {
                    for (long id : sessions(c, user)) {
                        try {
                            st.execute("KILL CONNECTION " + id);
                        } catch (SQLException e) {
                            st.execute("CALL mysql.rds_kill(" + id + ")"); // RDS: KILL of another login's session is not allowed
                        }
                        ended++;
                    }
                }
            }
            return (lock ? "locked " : "unlocked ") + done + (lock ? ", " + ended + " session(s) ended" : "");
        } catch (SQLException e) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, (lock ? "locking" : "unlocking") + " the application's logins on the old source "
                    + "failed after " + done + ": " + e.getMessage(), "do it by hand: ALTER USER ... ACCOUNT " + (lock ? "LOCK" : "UNLOCK"), e);
        }
    }

    private static List<Long> sessions(Connection c, String user) throws SQLException {
        String name = user.contains("@") ? user.substring(0, user.indexOf('@')) : user;
        List<Long> ids = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getLong(1));
                }
            }
        }
        return ids;
    }

    /** {@code app@%} as SQL: 'app'@'%' (the plan checks the characters). */
    static String account(String user) {
        int at = user.indexOf('@');
        String name = at < 0 ? user : user.substring(0, at);
        String host = at < 0 ? "%" : user.substring(at + 1);
        return "'" + name.replace("'", "''") + "'@'" + host.replace("'", "''") + "'";
    }

    /** SHOW GRANTS of the current user ({@code user} null) or of a login; null when that login does not exist. */
    static List<String> grants(Connection c, String user) throws SQLException {
        List<String> lines = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(user == null ? "SHOW GRANTS" : "SHOW GRANTS FOR " + account(user))) {
            while (rs.next()) {
                lines.add(rs.getString(1));
            }
        } catch (SQLException e) {
            if (e.getErrorCode() == NO_SUCH_GRANT) {
                return null;
            }
            throw e;
        }
        return lines;
    }

    private boolean has(List<String> grants, String privilege) {
        String db = plan.source().database();
        for (String line : grants) {
            String upper = line.toUpperCase(Locale.ROOT);
            boolean scope = upper.contains(" ON *.* ") || upper.contains(" ON `" + db.toUpperCase(Locale.ROOT).replace("`", "``") + "`.* ");
            if (scope && (upper.contains("ALL PRIVILEGES") || upper.contains(privilege))) {
                return true;
            }
        }
        return false;
    }

    private static boolean superOrAll(List<String> grants) {
        for (String line : grants) {
            String upper = line.toUpperCase(Locale.ROOT);
            if (upper.contains(" ON *.* ") && (upper.contains("ALL PRIVILEGES") || upper.matches(".*\\bSUPER\\b.*"))) {
                return true;
            }
        }
        return false;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
