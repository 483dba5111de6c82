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
    /** ER_NO_SUCH_THREAD: KILL of a session that is gone. */
    private static final int UNKNOWN_THREAD = 1094;

    private final Plan plan;
    private final DataSource pool;

    MySqlCutover(Plan plan, DataSource pool) {
        this.plan = plan;
        this.pool = pool;
    }

    /** One check that may need a privilege of its own to ask: a failure to ask is that check's failure, the others go on. */
    private interface Check {
        CutoverCheck run(Connection c) throws SQLException;
    }

    private static CutoverCheck guarded(Connection c, String name, String needs, Check check) {
        try {
            return check.run(c);
        } catch (SQLException e) {
            return CutoverCheck.fail(name, "could not be checked: " + e.getMessage(), needs);
        }
    }

    List<CutoverCheck> sourceChecks(CutoverCheck.Context context) {
        List<CutoverCheck> checks = new ArrayList<>();
        String db = plan.source().database();
        List<String> users = context.applicationUsers();
        try (Connection c = pool.getConnection()) {
            List<String> grants = grants(c, null);
            String self = currentUser(c);
            String freeze = plan.cutover().freeze();
            if ("lock-tables".equals(freeze)) {
                checks.add(has(grants, "LOCK TABLES", false) ? CutoverCheck.pass("freeze privilege", "LOCK TABLES held")
                        : CutoverCheck.fail("freeze privilege", "the migration user may not LOCK TABLES on `" + db + "`",
                        "GRANT LOCK TABLES ON `" + db + "`.* TO the migration user"));
            } else if ("read-only".equals(freeze)) {
                checks.add(guarded(c, "freeze privilege", "GRANT SELECT ON mysql.* TO the migration user (SHOW GRANTS FOR the application's logins)",
                        conn -> readOnlyChecks(conn, grants, users)));
            }
            checks.add(guarded(c, "long transactions", "GRANT PROCESS ON *.* TO the migration user (information_schema.INNODB_TRX)",
                    conn -> transactions(conn, context)));
            checks.add(marker(c));
            if (plan.cutover().reverse() && "lock-tables".equals(freeze) && users.isEmpty()) {
                checks.add(CutoverCheck.fail("reverse replication", "with freeze: lock-tables and no cutover.applicationUsers the table locks "
                        + "stay held on the old source after the switch (its lasting freeze), so reverse replication could not write there",
                        "name the application's logins in cutover.applicationUsers (they are locked instead and the table locks go), use "
                                + "freeze: read-only, or cut over without a way back: cutover.reverse: false"));
            }
            if (plan.cutover().reverse()) {
                boolean writes = List.of("INSERT", "UPDATE", "DELETE").stream().allMatch(p -> has(grants, p, db));
                checks.add(writes ? CutoverCheck.pass("reverse replication writes", "INSERT, UPDATE, DELETE held on `" + db + "`: reverse "
                        + "replication can write the new server's changes here") : CutoverCheck.fail("reverse replication writes", "the migration "
                        + "user may not write on `" + db + "` of the old source: after the switch no reverse replication could carry the new "
                        + "server's writes back", "GRANT INSERT, UPDATE, DELETE ON `" + db + "`.* TO the migration user, or cut over without a "
                        + "way back: cutover.reverse: false"));
            }
            checks.add(guarded(c, "sessions around the proxy", "GRANT PROCESS ON *.* TO the migration user", this::bypassing));
            checks.add(guarded(c, "foreign-key cascades", "GRANT SELECT on the database to the migration user", this::cascades));
            checks.add(has(grants, "TRIGGER", false) ? CutoverCheck.pass("triggers visible", "TRIGGER held: the source's triggers can be read")
                    : CutoverCheck.fail("triggers visible", "the migration user may not see the triggers of `" + db + "` (information_schema "
                    + "hides them without the TRIGGER privilege): the target would open without them", "GRANT TRIGGER ON `" + db
                    + "`.* TO the migration user"));
            for (String user : users) {
                if (sameLogin(user, self)) {
                    checks.add(CutoverCheck.fail("application login " + user, "is migrator's own login (" + self + "): locking it would lock "
                            + "migrator out, and its writes cannot be told from the application's", "give the application a login of its own"));
                    continue;
                }
                checks.add(guarded(c, "application login " + user, "GRANT SELECT ON mysql.* TO the migration user (SHOW GRANTS FOR)",
                        conn -> grants(conn, user) != null ? CutoverCheck.pass("application login " + user, "exists on the source")
                                : CutoverCheck.fail("application login " + user, "does not exist on the source", "name the application's "
                                + "logins in cutover.applicationUsers as user@host, as SHOW GRANTS FOR takes them")));
            }
            if (!users.isEmpty()) {
                checks.add(has(grants, "CREATE USER", true) ? CutoverCheck.pass("lasting freeze privilege", "CREATE USER held "
                        + "(ALTER USER ... ACCOUNT LOCK)") : CutoverCheck.fail("lasting freeze privilege", "the migration user may not lock the "
                        + "application's logins after the switch (ALTER USER needs CREATE USER on *.*)", "GRANT CREATE USER ON *.* TO the "
                        + "migration user, or remove cutover.applicationUsers"));
                if (!has(grants, "SUPER", true) && !has(grants, "CONNECTION ADMIN", true) && !has(grants, "CONNECTION_ADMIN", true)) {
                    checks.add(CutoverCheck.warn("ending sessions", "the migration user may not KILL other logins' sessions: after the switch "
                            + "the application's sessions still open on the old source stay (mysql.rds_kill is tried on RDS)",
                            "GRANT CONNECTION ADMIN (MariaDB) / CONNECTION_ADMIN (MySQL) ON *.* TO the migration user"));
                }
            } else if ("lock-tables".equals(freeze)) {
                checks.add(CutoverCheck.warn("lasting freeze", "cutover.applicationUsers names no login: after the switch the old source stays "
                        + "frozen only while this worker runs (its table locks)", "list the application's logins in cutover.applicationUsers"));
            }
        } catch (SQLException e) {
            checks.add(CutoverCheck.fail("source", "the source did not answer the cutover checks: " + e.getMessage(), "check the source"));
        }
        return checks;
    }

    /**
     * Foreign keys whose ON DELETE / ON UPDATE rule changes child rows (CASCADE, SET NULL, SET DEFAULT): the server writes
     * no binlog event for those child changes, so the stream does not carry them. A validation with --repair brings the
     * target back; the changes since the last one are not verified by the cutover.
     */
    private CutoverCheck cascades(Connection c) throws SQLException {
        List<String> found = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT TABLE_NAME, REFERENCED_TABLE_NAME, CONSTRAINT_NAME, DELETE_RULE, UPDATE_RULE "
                + "FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND (DELETE_RULE IN ('CASCADE', 'SET NULL', "
                + "'SET DEFAULT') OR UPDATE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT')) ORDER BY TABLE_NAME, CONSTRAINT_NAME")) {
            ps.setString(1, plan.source().database());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (plan.tables().includes(plan.source().database(), rs.getString(1))) {
                        found.add(rs.getString(1) + "." + rs.getString(3) + " -> " + rs.getString(2) + " (ON DELETE " + rs.getString(4)
                                + ", ON UPDATE " + rs.getString(5) + ")");
                    }
                }
            }
        }
        if (found.isEmpty()) {
            return CutoverCheck.pass("foreign-key cascades", "no foreign key of the plan's tables changes child rows by itself");
        }
        return CutoverCheck.warn("foreign-key cascades", "the child rows these foreign keys change by cascade are not in the binlog, so "
                + "the stream does not carry them: " + String.join("; ", found) + "; inside the freeze the cutover redoes ON DELETE CASCADE "
                + "/ SET NULL over a parent's one-column primary key for the parents deleted since the last clean validation",
                "run `migrator validate PLAN --repair` right before the cutover: it fixes the rest (ON UPDATE rules, composite keys, and "
                + "what cascaded before that validation)");
    }

    private static String currentUser(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT CURRENT_USER()")) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** {@code app@%} names the login CURRENT_USER() returns as app@%. */
    private static boolean sameLogin(String user, String current) {
        String u = user.contains("@") ? user : user + "@%";
        return u.equalsIgnoreCase(current);
    }

    /** Privileges that let a session write while read_only is ON: MariaDB's SUPER (10.11) and READ_ONLY ADMIN, MySQL's CONNECTION_ADMIN. */
    private boolean bypassesReadOnly(List<String> grants) {
        return has(grants, "SUPER", true) || has(grants, "READ_ONLY ADMIN", true) || has(grants, "CONNECTION_ADMIN", true);
    }

    private CutoverCheck readOnlyChecks(Connection c, List<String> grants, List<String> users) throws SQLException {
        if (!bypassesReadOnly(grants)) {
            return CutoverCheck.fail("freeze privilege", "the migration user cannot write while read_only is ON (the fence marker) nor set it: "
                    + "it needs SUPER, READ_ONLY ADMIN (MariaDB) or SYSTEM_VARIABLES_ADMIN and CONNECTION_ADMIN (MySQL)",
                    "grant it, or use freeze: lock-tables (RDS and Aurora allow no SUPER)");
        }
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT @@global.read_only")) {
            if (rs.next() && rs.getInt(1) != 0) {
                return CutoverCheck.fail("freeze privilege", "the source is read_only already: an abort would not know to leave it so",
                        "SET GLOBAL read_only = OFF first, or use freeze: lock-tables");
            }
        }
        if (users.isEmpty()) {
            return CutoverCheck.fail("freeze privilege", "with freeze: read-only, a login holding SUPER / READ_ONLY ADMIN / CONNECTION_ADMIN "
                    + "keeps writing, and cutover.applicationUsers names none to check", "list the application's logins in "
                    + "cutover.applicationUsers, or use freeze: lock-tables");
        }
        for (String user : users) {
            List<String> appGrants = grants(c, user);
            if (appGrants != null && bypassesReadOnly(appGrants)) {
                return CutoverCheck.fail("freeze privilege", "application login " + user + " may write while read_only is ON (SUPER, READ_ONLY "
                        + "ADMIN or CONNECTION_ADMIN): the freeze would not stop it", "revoke it from the application's login, or use freeze: lock-tables");
            }
        }
        return CutoverCheck.pass("freeze privilege", "read_only can be set and binds the application's logins; it is OFF now");
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
            if (!lock) {
                return "unlocked " + done;
            }
            int ended = 0;
            int left = 0;
            for (String user : users) {
                for (long id : sessions(c, user)) {
                    if (kill(st, id)) {
                        ended++;
                    } else {
                        left++;
                    }
                }
            }
            return "locked " + done + ", " + ended + " session(s) ended" + (left == 0 ? "" : "; " + left + " could not be ended (KILL needs "
                    + "CONNECTION ADMIN or SUPER, or mysql.rds_kill on RDS): end them by hand, they still reach the old source");
        } catch (SQLException e) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, (lock ? "locking" : "unlocking") + " the application's logins on the old source "
                    + "failed after " + done + ": " + e.getMessage(), "do it by hand: ALTER USER ... ACCOUNT " + (lock ? "LOCK" : "UNLOCK")
                    + " (needs CREATE USER)", e);
        }
    }

    /** The sessions of a login: its user name, from hosts its host pattern matches (host patterns use LIKE's % and _). */
    private static List<Long> sessions(Connection c, String user) throws SQLException {
        int at = user.indexOf('@');
        String name = at < 0 ? user : user.substring(0, at);
        String host = at < 0 ? "%" : user.substring(at + 1);
        List<Long> ids = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? "
                + "AND SUBSTRING_INDEX(HOST, ':', 1) LIKE ? AND ID <> CONNECTION_ID()")) {
            ps.setString(1, name);
            ps.setString(2, host);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getLong(1));
                }
            }
        }
        return ids;
    }

    /**
     * Ends a session: KILL CONNECTION, or mysql.rds_kill where KILL of another login's session is not allowed (RDS). False
     * when it could not be ended; a session already gone counts as ended.
     */
    static boolean kill(Statement st, long id) {
        try {
            st.execute("KILL CONNECTION " + id);
            return true;
        } catch (SQLException e) {
            if (e.getErrorCode() == UNKNOWN_THREAD) {
                return true; // it ended by itself (HAProxy shut its client down)
            }
            try {
                st.execute("CALL mysql.rds_kill(" + id + ")");
                return true;
            } catch (SQLException rds) {
                LOG.warn("could not end session {} on the source: {}", id, e.getMessage());
                return false;
            }
        }
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

    /**
     * Whether SHOW GRANTS lines give {@code privilege}: on *.*, or (unless {@code global}, for privileges that exist only
     * there) on the plan's database; ALL PRIVILEGES counts in the same scope.
     */
    private boolean has(List<String> grants, String privilege, boolean global) {
        return has(grants, privilege, global ? null : plan.source().database());
    }

    /** As above, on *.* or (with {@code database}) that database; the target's checks ask it of their own database. */
    static boolean has(List<String> grants, String privilege, String database) {
        boolean global = database == null;
        String db = global ? "" : "`" + database.toUpperCase(Locale.ROOT).replace("`", "``") + "`.*";
        java.util.regex.Pattern named = java.util.regex.Pattern.compile("(^GRANT |,\\s?)" + java.util.regex.Pattern.quote(privilege) + "(\\s?,| ON )");
        for (String line : grants) {
            String upper = line.toUpperCase(Locale.ROOT);
            boolean scope = upper.contains(" ON *.* ") || !global && upper.contains(" ON " + db + " ");
            if (scope && (upper.startsWith("GRANT ALL PRIVILEGES ") || named.matcher(upper).find())) {
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
