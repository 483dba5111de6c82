package io.migrator.connectors.postgres;

import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.CutoverCheck;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cutover's PostgreSQL parts on the target: its preconditions (the application's roles exist there with the
 * privileges they have on the source, a WAL a reverse stream could read), the reverse position, and the opening: the
 * source's triggers on the plan's tables (and the functions they call, when the target lacks them) created on the target.
 * The apply runs with {@code session_replication_role = replica}, so ordinary triggers do not fire on replayed rows and
 * stay after an abort; triggers that fire in replica mode (ENABLE REPLICA / ALWAYS), or all when the migration user may
 * not set that role, are dropped again by an abort.
 */
final class PostgresTargetCutover {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresTargetCutover.class);
    private static final List<String> PRIVILEGES = List.of("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE");
    /** The triggers the opening created, so an abort drops those and never one the target had of its own. */
    private static final String OPENED = PostgresDialect.quote(PostgresHeartbeat.SCHEMA) + "." + PostgresDialect.quote("opened_triggers");

    @FunctionalInterface
    interface Source {
        Connection connect() throws SQLException;
    }

    private final Plan plan;
    private final DataSource pool;
    private final Source source;
    private final Supplier<List<TableId>> tables;

    PostgresTargetCutover(Plan plan, DataSource pool, Source source, Supplier<List<TableId>> tables) {
        this.plan = plan;
        this.pool = pool;
        this.source = source;
        this.tables = tables;
    }

    /** A source trigger: its table, name, definition, enabled state, and the function it calls. */
    record Trigger(TableId table, String name, String definition, String enabled, String function, String functionDefinition, String language) {
    }

    List<CutoverCheck> checks(CutoverCheck.Context context) {
        List<CutoverCheck> checks = new ArrayList<>();
        try (Connection t = pool.getConnection(); Connection s = source.connect()) {
            for (String role : context.applicationUsers()) {
                checks.add(role(s, t, role));
            }
            checks.add(reverse(t, context.rollback()));
            if (plan.cutover().reverse()) {
                checks.add(reverseSchema(s, t, context.rollback()));
            }
            List<Trigger> triggers = sourceTriggers(s);
            List<String> missingLanguages = new ArrayList<>();
            for (Trigger trigger : triggers) {
                if (!functionExists(t, trigger.function()) && !languageExists(t, trigger.language())) {
                    missingLanguages.add(trigger.function() + " (" + trigger.language() + ")");
                }
            }
            if (!missingLanguages.isEmpty()) {
                checks.add(CutoverCheck.fail("triggers", "the target lacks the language of the trigger functions " + missingLanguages
                        + ": the opening could not create them", "CREATE EXTENSION for that language on the target, or create the functions there"));
            } else {
                checks.add(CutoverCheck.pass("triggers", triggers.isEmpty() ? "the plan's tables have no triggers on the source"
                        : "created on the target at the opening: " + triggers.stream().map(x -> x.table() + "." + x.name()).toList()));
            }
        } catch (SQLException e) {
            checks.add(CutoverCheck.fail("target", "the cutover checks could not read the source and the target: " + e.getMessage(), "check both"));
        }
        return checks;
    }

    /**
     * What the direction that streams out of this server after the switch needs here (cutover.reverse: the reverse stream
     * on the new server; in a rollback, the forward stream again on the old source): wal_level logical, a login that may
     * create a logical slot (REPLICATION, or rds_replication on RDS), a free slot. Its slot is made before the freeze.
     */
    private CutoverCheck reverse(Connection t, boolean rollback) throws SQLException {
        String name = rollback ? "forward replication again" : "reverse replication";
        String off = rollback ? "" : "; or cut over without a way back: cutover.reverse: false";
        if (!plan.cutover().reverse()) {
            return CutoverCheck.pass(name, "off (cutover.reverse: false): no rollback after the switch");
        }
        String wal = PostgresCutover.scalar(t, "SHOW wal_level");
        if (!"logical".equals(wal)) {
            return CutoverCheck.fail(name, "the " + (rollback ? "old source's" : "target's") + " wal_level is " + wal + ": no stream could "
                    + "carry its writes " + (rollback ? "forward again" : "back"), "set wal_level = logical there (on RDS: "
                    + "rds.logical_replication = 1) and restart it before the " + (rollback ? "rollback" : "cutover") + off);
        }
        if (!"t".equals(PostgresCutover.scalar(t, "SELECT r.rolsuper OR r.rolreplication OR EXISTS (SELECT 1 FROM pg_roles g "
                + "WHERE g.rolname = 'rds_replication' AND pg_has_role(current_user, g.oid, 'MEMBER')) FROM pg_roles r WHERE r.rolname = current_user"))) {
            return CutoverCheck.fail(name, "migrator's login " + plan.target().user() + " may not create a replication slot there",
                    "ALTER ROLE " + PostgresDialect.quote(plan.target().user()) + " WITH REPLICATION (on RDS: GRANT rds_replication TO "
                            + PostgresDialect.quote(plan.target().user()) + ")" + off);
        }
        // a slot an earlier attempt of this cutover left is made afresh (dropped first): it does not take a free one
        String free;
        try (PreparedStatement ps = t.prepareStatement("SELECT current_setting('max_replication_slots')::int - count(*) FROM "
                + "pg_replication_slots WHERE slot_name <> ?")) {
            ps.setString(1, PostgresSource.slotName(Plan.reverseName(plan.name())));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                free = rs.getString(1);
            }
        }
        String senders = PostgresCutover.scalar(t, "SELECT current_setting('max_wal_senders')::int");
        if (Integer.parseInt(free) < 1) {
            return CutoverCheck.fail(name, "no replication slot is free there (max_replication_slots is used up)", "drop an unused slot "
                    + "(SELECT slot_name, active FROM pg_replication_slots), or raise max_replication_slots and restart" + off);
        }
        if (Integer.parseInt(senders) < 1) {
            return CutoverCheck.fail(name, "max_wal_senders is 0 there: no stream can read a slot", "raise max_wal_senders and restart" + off);
        }
        return CutoverCheck.pass(name, "wal_level logical, a free slot; the slot is made before the freeze");
    }

    /**
     * The stream out of this server after the switch writes its rows into the other one: every column of the plan's tables
     * here must exist there, with a collation it has; a type that differs is named (a reverse direction is often a
     * downgrade, and a type made on the new server only has no counterpart on the old one).
     */
    private CutoverCheck reverseSchema(Connection s, Connection t, boolean rollback) throws SQLException {
        String name = rollback ? "forward replication again: schema" : "reverse: schema";
        String there = rollback ? "the new server" : "the old source";
        List<String> missing = new ArrayList<>();
        List<String> foreign = new ArrayList<>();
        List<String> differing = new ArrayList<>();
        int compared = 0;
        for (TableId table : tables.get()) {
            Map<String, String[]> here = columns(t, table);
            Map<String, String[]> other = columns(s, table);
            for (Map.Entry<String, String[]> column : here.entrySet()) {
                compared++;
                String[] theirs = other.get(column.getKey());
                String where = table + "." + column.getKey();
                if (theirs == null) {
                    missing.add(where);
                } else if (column.getValue()[1] != null && !"t".equals(bool(s, "SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = ?)",
                        column.getValue()[1]))) {
                    foreign.add(where + " (" + column.getValue()[1] + ")");
                } else if (!column.getValue()[0].equals(theirs[0])) {
                    differing.add(where + " (" + column.getValue()[0] + " here, " + theirs[0] + " there)");
                }
            }
        }
        if (!missing.isEmpty() || !foreign.isEmpty()) {
            return CutoverCheck.fail(name, "the stream after the switch could not write this server's rows into " + there + ": "
                    + (missing.isEmpty() ? "" : "column(s) " + String.join(", ", missing.subList(0, Math.min(10, missing.size())))
                    + " missing there") + (!missing.isEmpty() && !foreign.isEmpty() ? "; " : "") + (foreign.isEmpty() ? ""
                    : "collation(s) it does not have: " + String.join(", ", foreign.subList(0, Math.min(10, foreign.size())))),
                    "give " + there + " the same columns (the same ALTER TABLE) and collations both servers have"
                            + (rollback ? "" : "; or cut over without a way back: cutover.reverse: false"));
        }
        if (!differing.isEmpty()) {
            return CutoverCheck.warn(name, "column types differ from " + there + "'s: " + String.join(", ", differing.subList(0,
                    Math.min(10, differing.size()))) + "; values the other type cannot hold would stop the stream", "give both the same types");
        }
        return CutoverCheck.pass(name, compared + " column(s) of the plan's tables exist on " + there + " with the same types");
    }

    /** Column name → {type as format_type shows it, collation name or null} of a table, in order. */
    private static Map<String, String[]> columns(Connection c, TableId table) throws SQLException {
        Map<String, String[]> columns = new java.util.LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT a.attname, format_type(a.atttypid, a.atttypmod), co.collname "
                + "FROM pg_attribute a LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0 "
                + "AND co.collname <> 'default' WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")) {
            ps.setString(1, PostgresDialect.quote(table));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    columns.put(rs.getString(1), new String[] {rs.getString(2), rs.getString(3)});
                }
            }
        }
        return columns;
    }

    /** The role exists on the target and holds there every table privilege it holds on the source. */
    private CutoverCheck role(Connection s, Connection t, String role) throws SQLException {
        String name = "application role " + role + " on the target";
        if (!"t".equals(bool(t, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ?)", role))) {
            return CutoverCheck.fail(name, "does not exist on the target (roles and grants are not replicated): the application could not "
                    + "log in after the switch", "CREATE ROLE " + PostgresDialect.quote(role) + " LOGIN on the target and grant it what it has on the source");
        }
        if (!"t".equals(bool(s, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ?)", role))) {
            return CutoverCheck.pass(name, "exists (not on the source: nothing to compare)");
        }
        List<String> missing = new ArrayList<>();
        String example = null;
        // what a lasting freeze of the other direction took here comes back at the switch (PostgresTarget#admitApplication)
        java.util.Set<String> comingBack = PostgresCutover.revokedHere(t, plan.name());
        for (TableId table : tables.get()) {
            List<String> lacks = new ArrayList<>();
            for (String privilege : PRIVILEGES) {
                if (PostgresPrivileges.has(s, role, table, privilege) && !PostgresPrivileges.has(t, role, table, privilege)
                        && !comingBack.contains(role + "\u0000" + table + "\u0000" + privilege)) {
                    lacks.add(privilege);
                }
            }
            if (!lacks.isEmpty()) {
                missing.add(table + " (" + String.join(", ", lacks) + ")");
                example = example != null ? example : "GRANT " + String.join(", ", lacks) + " ON " + PostgresDialect.quote(table) + " TO "
                        + PostgresDialect.quote(role);
            }
        }
        if (missing.isEmpty()) {
            return CutoverCheck.pass(name, "exists, with the table privileges it has on the source");
        }
        return CutoverCheck.fail(name, "lacks privileges it has on the source: " + String.join(", ", missing.subList(0, Math.min(6, missing.size())))
                + (missing.size() > 6 ? ", ... (" + missing.size() + " tables)" : "") + "; the application would fail after the switch",
                "GRANT them on the target (e.g. " + example + "), and USAGE on the sequences it uses");
    }

    Optional<String> reversePosition() {
        try (Connection c = pool.getConnection()) {
            // the stream of the other direction starts there: its slot, made before the freeze, skips what committed before
            return Optional.of(PostgresPosition.start(org.postgresql.replication.LogSequenceNumber.valueOf(
                    PostgresCutover.scalar(c, "SELECT pg_current_wal_lsn()::text"))).text());
        } catch (SQLException e) {
            // before the point of no return: the cutover aborts rather than go on without a way back it prepared
            throw PostgresErrors.translate("reading the target's WAL position (where reverse replication starts)", e);
        }
    }

    /** Creates the source's triggers the target lacks (their functions first, when missing); returns what it did. */
    String open() {
        List<Trigger> triggers;
        try (Connection s = source.connect()) {
            triggers = sourceTriggers(s);
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading the source's triggers", e);
        }
        if (triggers.isEmpty()) {
            return "the plan's tables have no triggers on the source";
        }
        List<String> created = new ArrayList<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            boolean auto = c.getAutoCommit();
            c.setAutoCommit(false);
            try (PreparedStatement record = c.prepareStatement("INSERT INTO " + OPENED + " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")) {
                st.execute("SET LOCAL lock_timeout = '5s'");
                st.execute("CREATE SCHEMA IF NOT EXISTS " + PostgresDialect.quote(PostgresHeartbeat.SCHEMA));
                st.execute("CREATE TABLE IF NOT EXISTS " + OPENED + " (migration text NOT NULL, schema_name text NOT NULL, table_name text NOT NULL, "
                        + "trigger_name text NOT NULL, PRIMARY KEY (migration, schema_name, table_name, trigger_name))");
                for (Trigger trigger : triggers) {
                    if (!functionExists(c, trigger.function())) {
                        st.execute(trigger.functionDefinition());
                        created.add("function " + trigger.function());
                    }
                    if (triggerExists(c, trigger)) {
                        continue;
                    }
                    st.execute(trigger.definition());
                    String mode = switch (trigger.enabled()) {
                        case "D" -> "DISABLE TRIGGER ";
                        case "R" -> "ENABLE REPLICA TRIGGER ";
                        case "A" -> "ENABLE ALWAYS TRIGGER ";
                        default -> null;
                    };
                    if (mode != null) {
                        st.execute("ALTER TABLE " + PostgresDialect.quote(trigger.table()) + " " + mode + PostgresDialect.quote(trigger.name()));
                    }
                    record.setString(1, plan.name());
                    record.setString(2, trigger.table().schema());
                    record.setString(3, trigger.table().name());
                    record.setString(4, trigger.name());
                    record.executeUpdate();
                    created.add(trigger.table() + "." + trigger.name());
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                io.migrator.connectors.jdbc.JdbcErrors.rollbackAfter(c, e);
                throw e;
            } finally {
                c.setAutoCommit(auto);
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("creating the source's triggers on the target", e);
        }
        return "triggers created: " + (created.isEmpty() ? "none missing" : created);
    }

    /**
     * Before replayed rows are applied again (an abort, a restart past the point of no return): the triggers the opening
     * created that would fire on them are dropped — those enabled in replica mode (ENABLE REPLICA / ALWAYS), or all of them
     * when the migration user may not set session_replication_role. A trigger the target had of its own is never touched.
     * Asks the target only, so it works with the source down. Returns what it did.
     */
    String close() {
        boolean replica = replicaRoleAllowed();
        List<String> dropped = new ArrayList<>();
        List<String> kept = new ArrayList<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            if (!"t".equals(PostgresCutover.scalar(c, "SELECT to_regclass('" + PostgresHeartbeat.SCHEMA + ".opened_triggers') IS NOT NULL"))) {
                return "no trigger was created by an opening";
            }
            List<String[]> opened = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT o.schema_name, o.table_name, o.trigger_name, t.tgenabled FROM " + OPENED + " o "
                    + "LEFT JOIN pg_trigger t ON t.tgrelid = to_regclass(format('%I.%I', o.schema_name, o.table_name)) AND t.tgname = o.trigger_name "
                    + "WHERE o.migration = ?")) {
                ps.setString(1, plan.name());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        opened.add(new String[] {rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)});
                    }
                }
            }
            try (PreparedStatement forget = c.prepareStatement("DELETE FROM " + OPENED + " WHERE migration = ? AND schema_name = ? AND table_name = ? "
                    + "AND trigger_name = ?")) {
                for (String[] t : opened) {
                    TableId table = new TableId(t[0], t[1]);
                    boolean fires = t[3] != null && (!replica || "R".equals(t[3]) || "A".equals(t[3]));
                    if (t[3] != null && !fires) {
                        kept.add(table + "." + t[2]);
                        continue;
                    }
                    if (fires) {
                        st.execute("DROP TRIGGER IF EXISTS " + PostgresDialect.quote(t[2]) + " ON " + PostgresDialect.quote(table));
                        dropped.add(table + "." + t[2]);
                    }
                    forget.setString(1, plan.name());
                    forget.setString(2, t[0]);
                    forget.setString(3, t[1]);
                    forget.setString(4, t[2]);
                    forget.executeUpdate();
                }
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("dropping the triggers on the target", e);
        }
        String keptText = kept.isEmpty() ? "" : "kept " + kept + ": the apply runs with session_replication_role = replica, they do not fire on "
                + "replayed rows";
        if (dropped.isEmpty()) {
            return keptText.isEmpty() ? "no trigger the opening created is left" : keptText;
        }
        return "triggers dropped: " + dropped + (keptText.isEmpty() ? "" : "; " + keptText);
    }

    /** Whether the migration user may set session_replication_role (the apply's way to keep triggers and FKs quiet). */
    private boolean replicaRoleAllowed() {
        try (Connection c = pool.getConnection()) {
            return PostgresCutover.replicaRoleAllowed(c);
        } catch (SQLException e) {
            return false;
        }
    }

    private List<Trigger> sourceTriggers(Connection s) throws SQLException {
        List<Trigger> triggers = new ArrayList<>();
        try (PreparedStatement ps = s.prepareStatement("SELECT t.tgname, pg_get_triggerdef(t.oid), t.tgenabled, "
                + "format('%I.%I()', pn.nspname, p.proname), pg_get_functiondef(p.oid), l.lanname FROM pg_trigger t "
                + "JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang "
                + "WHERE NOT t.tgisinternal AND t.tgrelid = to_regclass(?) ORDER BY t.tgname")) {
            for (TableId table : tables.get()) {
                ps.setString(1, PostgresDialect.quote(table));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        triggers.add(new Trigger(table, rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5), rs.getString(6)));
                    }
                }
            }
        }
        return triggers;
    }

    private static boolean functionExists(Connection c, String signature) throws SQLException {
        return "t".equals(bool(c, "SELECT to_regprocedure(?) IS NOT NULL", signature));
    }

    private static boolean languageExists(Connection c, String language) throws SQLException {
        return "t".equals(bool(c, "SELECT EXISTS (SELECT 1 FROM pg_language WHERE lanname = ?)", language));
    }

    private static boolean triggerExists(Connection c, Trigger trigger) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(?) AND tgname = ?)")) {
            ps.setString(1, PostgresDialect.quote(trigger.table()));
            ps.setString(2, trigger.name());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    private static String bool(Connection c, String sql, String parameter) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, parameter);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1) ? "t" : "f";
            }
        }
    }
}
