package io.migrator.connectors.mysql;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.spi.CutoverCheck;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cutover's MySQL/MariaDB parts on the target: its preconditions (the application's logins exist, a binlog for
 * reverse replication), AUTO_INCREMENT raised to the source's, the reverse position, and the opening: the source's
 * triggers created on the plan's tables (they must not exist while replayed rows are applied: they would fire twice).
 */
final class MySqlTargetCutover {
    private static final Logger LOG = LoggerFactory.getLogger(MySqlTargetCutover.class);

    /** DDL on the target inside the freeze waits this long at most for a table's metadata lock (not the server's day or year). */
    private static final int LOCK_WAIT_SECONDS = 5;

    private final Plan plan;
    private final DataSource pool;

    MySqlTargetCutover(Plan plan, DataSource pool) {
        this.plan = plan;
        this.pool = pool;
    }

    List<CutoverCheck> checks(CutoverCheck.Context context) {
        List<CutoverCheck> checks = new ArrayList<>();
        try (Connection c = pool.getConnection()) {
            for (String user : context.applicationUsers()) {
                checks.add(MySqlCutover.grants(c, user) != null ? CutoverCheck.pass("application login " + user + " on the target", "exists")
                        : CutoverCheck.fail("application login " + user + " on the target", "does not exist on the target (logins and grants "
                        + "are not replicated): the application could not log in after the switch", "CREATE USER " + MySqlCutover.account(user)
                        + " and GRANT it what it has on the source (SHOW GRANTS FOR it there)"));
            }
            checks.addAll(reverseChecks(c));
            checks.add(triggersCreatable(c));
        } catch (SQLException e) {
            checks.add(CutoverCheck.fail("target", "the target did not answer the cutover checks: " + e.getMessage(), "check the target"));
        }
        return checks;
    }

    /**
     * What reverse replication will need of the target once it is the application's server (cutover.reverse, the default):
     * a binlog in ROW format with full images, kept long enough, that migrator's login may read. Without it the cutover is
     * refused before anything is frozen (no rollback could carry the target's writes back), unless the plan says
     * cutover.reverse: false.
     */
    private List<CutoverCheck> reverseChecks(Connection c) throws SQLException {
        String off = "or cut over without a way back: cutover.reverse: false";
        if (!plan.cutover().reverse()) {
            return List.of(CutoverCheck.pass("reverse replication", "off (cutover.reverse: false): no rollback after the switch"));
        }
        List<CutoverCheck> checks = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT @@log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image")) {
            rs.next();
            boolean logBin = rs.getInt(1) == 1;
            String format = rs.getString(2);
            String image = rs.getString(3);
            if (!logBin || !"ROW".equalsIgnoreCase(format) || !"FULL".equalsIgnoreCase(image)) {
                checks.add(CutoverCheck.fail("reverse replication", "the target's binlog cannot feed reverse replication ("
                        + (logBin ? "binlog_format=" + format + ", binlog_row_image=" + image : "log_bin is OFF") + "): after the switch no "
                        + "rollback could carry its writes back", "run the target with log_bin, binlog_format=ROW and binlog_row_image=FULL "
                        + "(RDS/Aurora: automated backups on, those two in the parameter group), " + off));
                return checks;
            }
        }
        long keep = 0;
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT @@GLOBAL.binlog_expire_logs_seconds")) {
            keep = rs.next() ? rs.getLong(1) : 0;
        } catch (SQLException older) {
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT @@GLOBAL.expire_logs_days")) {
                keep = rs.next() ? Math.round(rs.getDouble(1) * 86_400) : 0;
            }
        }
        checks.add(keep > 0 && keep < 86_400 ? CutoverCheck.warn("reverse replication", "the target keeps its binlog " + keep / 3600 + " h: a reverse "
                + "stream stopped longer than that loses its position, and with it the way back", "keep it a day or more (binlog_expire_logs_seconds; "
                + "RDS: CALL mysql.rds_set_configuration('binlog retention hours', 24))")
                : CutoverCheck.pass("reverse replication", "the target writes a ROW binlog with full images" + (keep == 0 ? "" : ", kept "
                + keep / 3600 + " h")));
        List<String> grants = MySqlCutover.grants(c, null);
        boolean slave = MySqlCutover.has(grants, "REPLICATION SLAVE", null) || MySqlCutover.has(grants, "REPLICATION REPLICA", null);
        boolean client = MySqlCutover.has(grants, "REPLICATION CLIENT", null) || MySqlCutover.has(grants, "BINLOG MONITOR", null);
        if (!slave || !client) {
            List<String> missing = new ArrayList<>();
            if (!slave) {
                missing.add("REPLICATION SLAVE");
            }
            if (!client) {
                missing.add("REPLICATION CLIENT (MariaDB: BINLOG MONITOR)");
            }
            checks.add(CutoverCheck.fail("reverse replication privileges", "the migration user may not read the target's binlog",
                    "GRANT " + String.join(", ", missing) + " ON *.* TO the migration user on the target, " + off));
        }
        checks.add(reverseSchema(c, off));
        return checks;
    }

    /**
     * The reverse stream writes the target's rows into the old source's tables: every column of the plan's tables on the
     * target must exist there, with a collation the old source has (a reverse direction is often a downgrade: MySQL 8.0's
     * utf8mb4_0900_ai_ci has no counterpart on MariaDB or MySQL 5.7). Found before the freeze, not when the first reverse
     * row fails after the switch.
     */
    private CutoverCheck reverseSchema(Connection target, String off) throws SQLException {
        Map<String, String> onTarget = columns(target, plan.target().database());
        try (Connection old = MySqlFamilyConnector.connect(plan.source(), Duration.ofSeconds(10))) {
            Map<String, String> onSource = columns(old, plan.source().database());
            Set<String> collations = new java.util.HashSet<>();
            try (Statement st = old.createStatement(); ResultSet rs = st.executeQuery("SELECT COLLATION_NAME FROM information_schema.COLLATIONS")) {
                while (rs.next()) {
                    collations.add(rs.getString(1));
                }
            }
            List<String> missing = new ArrayList<>();
            List<String> foreign = new ArrayList<>();
            for (Map.Entry<String, String> column : onTarget.entrySet()) {
                if (!onSource.containsKey(column.getKey())) {
                    missing.add(column.getKey());
                } else if (column.getValue() != null && !collations.contains(column.getValue())) {
                    foreign.add(column.getKey() + " (" + column.getValue() + ")");
                }
            }
            if (missing.isEmpty() && foreign.isEmpty()) {
                return CutoverCheck.pass("reverse: schema", onTarget.size() + " column(s) of the plan's tables exist on the old source, with "
                        + "collations it has");
            }
            return CutoverCheck.fail("reverse: schema", "the reverse stream could not write the target's rows into the old source: "
                    + (missing.isEmpty() ? "" : "column(s) " + String.join(", ", missing.subList(0, Math.min(10, missing.size())))
                    + (missing.size() > 10 ? " and " + (missing.size() - 10) + " more" : "") + " missing there")
                    + (!missing.isEmpty() && !foreign.isEmpty() ? "; " : "") + (foreign.isEmpty() ? "" : "collation(s) it does not have: "
                    + String.join(", ", foreign.subList(0, Math.min(10, foreign.size())))), "give the old source the same columns (the "
                    + "same ALTER TABLE) and the target's columns collations both servers have, " + off);
        } catch (SQLException e) {
            return CutoverCheck.warn("reverse: schema", "could not compare the plan's columns with the old source's: " + e.getMessage(),
                    "make sure the old source has every column of the plan's tables, with collations it has");
        }
    }

    /** "table.column" → collation (null for a column without one) of the plan's tables in {@code db}. */
    private Map<String, String> columns(Connection c, String db) throws SQLException {
        Map<String, String> columns = new java.util.TreeMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT TABLE_NAME, COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
                + "WHERE TABLE_SCHEMA = ?")) {
            ps.setString(1, db);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (plan.tables().includes(plan.source().database(), rs.getString(1))) {
                        columns.put(rs.getString(1) + "." + rs.getString(2), rs.getString(3));
                    }
                }
            }
        }
        return columns;
    }

    /** The opening creates the source's triggers: a target writing a binlog lets only SUPER or log_bin_trust_function_creators do it. */
    private CutoverCheck triggersCreatable(Connection c) throws SQLException {
        Set<String> triggers;
        try {
            triggers = sourceTriggers().keySet();
        } catch (MigratorException e) {
            return CutoverCheck.fail("triggers", e.getMessage(), e.remedy());
        }
        if (triggers.isEmpty()) {
            return CutoverCheck.pass("triggers", "the plan's tables have no triggers on the source");
        }
        List<String> grants = MySqlCutover.grants(c, null);
        boolean trigger = MySqlCutover.has(grants, "TRIGGER", plan.target().database());
        if (!trigger) {
            return CutoverCheck.fail("triggers", "the migration user may not create the source's triggers " + triggers + " on the target",
                    "GRANT TRIGGER ON `" + plan.target().database() + "`.* TO the migration user on the target");
        }
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT @@log_bin, @@log_bin_trust_function_creators")) {
            rs.next();
            boolean superUser = MySqlCutover.has(grants, "SUPER", (String) null);
            if (rs.getInt(1) == 1 && rs.getInt(2) == 0 && !superUser) {
                return CutoverCheck.fail("triggers", "the target writes a binlog: creating the triggers " + triggers + " needs SUPER or "
                        + "log_bin_trust_function_creators = 1", "SET GLOBAL log_bin_trust_function_creators = 1 on the target (on RDS: in "
                        + "its parameter group)");
            }
        }
        return CutoverCheck.pass("triggers", "created on the target at the opening: " + triggers);
    }

    Optional<String> reversePosition() {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            return BinlogPosition.read(st).map(p -> p.toSourcePosition().text());
        } catch (SQLException e) {
            LOG.warn("could not read the target's binlog position: {}", e.getMessage());
            return Optional.empty();
        }
    }

    /** Each plan table's AUTO_INCREMENT on the target raised to at least the source's (never lowered). */
    List<String> syncAutoIncrements() {
        Map<String, Long> source = new LinkedHashMap<>();
        try (Connection c = MySqlFamilyConnector.connect(plan.source(), Duration.ofSeconds(10))) {
            source = autoIncrements(c, plan.source().database());
        } catch (SQLException e) {
            throw MySqlErrors.translate("reading AUTO_INCREMENT on the source", e);
        }
        List<String> moved = new ArrayList<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            Map<String, Long> target = autoIncrements(c, plan.target().database());
            st.execute("SET @migrator_lock_wait = @@SESSION.lock_wait_timeout, SESSION lock_wait_timeout = " + LOCK_WAIT_SECONDS);
            for (Map.Entry<String, Long> e : source.entrySet()) {
                Long now = target.get(e.getKey());
                if (now != null && now < e.getValue()) {
                    st.execute("ALTER TABLE " + MySqlDialect.quote(plan.target().database()) + "." + MySqlDialect.quote(e.getKey())
                            + " AUTO_INCREMENT = " + e.getValue());
                    moved.add(e.getKey() + " AUTO_INCREMENT -> " + e.getValue());
                }
            }
            st.execute("SET SESSION lock_wait_timeout = @migrator_lock_wait");
        } catch (SQLException e) {
            throw MySqlErrors.translate("raising AUTO_INCREMENT on the target", e);
        }
        return moved;
    }

    private Map<String, Long> autoIncrements(Connection c, String database) throws SQLException {
        Map<String, Long> values = new LinkedHashMap<>();
        try (Statement st = c.createStatement()) {
            st.execute("SET SESSION information_schema_stats_expiry = 0"); // MySQL 8 caches AUTO_INCREMENT there for a day
        } catch (SQLException e) {
            // MariaDB has no such cache (nor the variable)
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? "
                + "AND TABLE_TYPE = 'BASE TABLE' AND AUTO_INCREMENT IS NOT NULL")) {
            ps.setString(1, database);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (plan.tables().includes(plan.source().database(), rs.getString(1))) {
                        values.put(rs.getString(1), rs.getLong(2));
                    }
                }
            }
        }
        return values;
    }

    /** Creates the source's triggers of the plan's tables that the target lacks; returns what it did. */
    String open() {
        Map<String, String[]> triggers = sourceTriggers();
        Set<String> existing = targetTriggers(false);
        List<String> created = new ArrayList<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            c.setCatalog(plan.target().database()); // the pool resets it when the connection goes back
            String poolMode;
            try (ResultSet rs = st.executeQuery("SELECT @@SESSION.sql_mode")) {
                rs.next();
                poolMode = rs.getString(1);
            }
            st.execute("SET @migrator_lock_wait = @@SESSION.lock_wait_timeout, SESSION lock_wait_timeout = " + LOCK_WAIT_SECONDS);
            try {
                createMissing(st, triggers, existing, created);
            } finally {
                st.execute("SET SESSION sql_mode = '" + poolMode.replace("'", "''") + "', SESSION lock_wait_timeout = @migrator_lock_wait");
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("creating the source's triggers on the target (after " + created + ")", e);
        }
        return triggers.isEmpty() ? "the plan's tables have no triggers on the source" : "triggers created: " + (created.isEmpty() ? "none missing" : created);
    }

    /** After the switch: the application's logins unlocked and read_only ended where a lasting freeze left them; "" when none was. */
    String admit() {
        String unlocked = unlockLogins();
        String writable = writableAgain();
        return unlocked.isEmpty() ? writable : writable.isEmpty() ? unlocked : unlocked + "; " + writable;
    }

    /**
     * With {@code freeze: read-only}, a lasting freeze left this server read-only (a rollback's target is the old source,
     * the next cutover's target the server a rollback froze): the opening makes it writable. "" when it was.
     */
    private String writableAgain() {
        if (!"read-only".equals(plan.cutover().freeze())) {
            return "";
        }
        try (Connection c = pool.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT @@GLOBAL.read_only")) {
            if (rs.next() && rs.getInt(1) == 1) {
                st.execute("SET GLOBAL read_only = OFF");
                return "read_only OFF";
            }
            return "";
        } catch (SQLException e) {
            throw MySqlErrors.translate("making the target writable (SET GLOBAL read_only = OFF)", e);
        }
    }

    /**
     * The application's logins that a lasting freeze left locked on this server (a rollback's target is the old source,
     * the next cutover's target the server a rollback froze) are unlocked: the opening lets the application in. Logins that
     * are not locked are left alone; "" when none was.
     */
    private String unlockLogins() {
        List<String> unlocked = new ArrayList<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            for (String user : plan.cutover().applicationUsers()) {
                boolean locked;
                try (ResultSet rs = st.executeQuery("SHOW CREATE USER " + MySqlCutover.account(user))) {
                    locked = rs.next() && rs.getString(1).toUpperCase(java.util.Locale.ROOT).contains("ACCOUNT LOCK");
                } catch (SQLException e) {
                    continue; // no such login here, or no right to look: the preconditions named it
                }
                if (locked) {
                    st.execute("ALTER USER " + MySqlCutover.account(user) + " ACCOUNT UNLOCK");
                    unlocked.add(user);
                }
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("unlocking the application's logins on the target (after " + unlocked + ")", e);
        }
        return unlocked.isEmpty() ? "" : "logins unlocked: " + unlocked;
    }

    private static void createMissing(Statement st, Map<String, String[]> triggers, Set<String> existing, List<String> created) throws SQLException {
        {
            for (Map.Entry<String, String[]> t : triggers.entrySet()) {
                if (existing.contains(t.getKey())) {
                    continue;
                }
                st.execute("SET SESSION sql_mode = '" + t.getValue()[0].replace("'", "''") + "'");
                // without DEFINER: the trigger runs as its creator (a managed target lets no other definer be named)
                st.execute(t.getValue()[1].replaceFirst("(?i)^CREATE\\s+DEFINER\\s*=\\s*(`[^`]*`|'[^']*'|\\S+?)@(`[^`]*`|'[^']*'|\\S+)\\s+", "CREATE "));
                created.add(t.getKey());
            }
        }
    }

    /**
     * Drops the triggers on the plan's tables of the target (an abort before the switch, a restart past it): while changes
     * are replayed none may fire. Asks the target only, so it works with the source down. Returns what it did.
     */
    String close() {
        List<String> dropped = new ArrayList<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            for (String name : targetTriggers(true)) {
                st.execute("DROP TRIGGER IF EXISTS " + MySqlDialect.quote(plan.target().database()) + "." + MySqlDialect.quote(name));
                dropped.add(name);
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("dropping the triggers on the target", e);
        }
        return dropped.isEmpty() ? "no trigger on the target's tables" : "triggers dropped: " + dropped;
    }

    /** Trigger name to {sql_mode, CREATE statement}, for the plan's tables on the source. */
    private Map<String, String[]> sourceTriggers() {
        Map<String, String[]> triggers = new LinkedHashMap<>();
        String db = plan.source().database();
        try (Connection c = MySqlFamilyConnector.connect(plan.source(), Duration.ofSeconds(10))) {
            List<String> names = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "
                    + "WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER")) {
                ps.setString(1, db);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        if (plan.tables().includes(db, rs.getString(2))) {
                            names.add(rs.getString(1));
                        }
                    }
                }
            }
            try (Statement st = c.createStatement()) {
                for (String name : names) {
                    try (ResultSet rs = st.executeQuery("SHOW CREATE TRIGGER " + MySqlDialect.quote(db) + "." + MySqlDialect.quote(name))) {
                        if (rs.next()) {
                            triggers.put(name, new String[] {rs.getString(2), rs.getString(3)});
                        }
                    }
                }
            }
        } catch (SQLException e) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, "reading the triggers of the source failed: " + e.getMessage(),
                    "GRANT TRIGGER ON `" + db + "`.* to the migration user (SHOW CREATE TRIGGER needs it)", e);
        }
        return triggers;
    }

    /** The target's triggers (only those on the plan's tables with {@code planTablesOnly}). */
    private Set<String> targetTriggers(boolean planTablesOnly) {
        Set<String> names = new TreeSet<>();
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?")) {
            ps.setString(1, plan.target().database());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (!planTablesOnly || plan.tables().includes(plan.source().database(), rs.getString(2))) {
                        names.add(rs.getString(1));
                    }
                }
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("listing the triggers on the target", e);
        }
        return names;
    }
}
