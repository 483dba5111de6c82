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
import java.util.LinkedHashMap;
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
            String wal = PostgresCutover.scalar(t, "SHOW wal_level");
            checks.add("logical".equals(wal) ? CutoverCheck.pass("reverse position", "the target's wal_level is logical")
                    : CutoverCheck.warn("reverse position", "the target's wal_level is " + wal + ": no reverse stream could carry its writes back",
                    "set wal_level = logical on the target (on RDS: rds.logical_replication = 1) and restart it before the cutover"));
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
        for (TableId table : tables.get()) {
            List<String> lacks = new ArrayList<>();
            for (String privilege : PRIVILEGES) {
                if (has(s, role, table, privilege) && !has(t, role, table, privilege)) {
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
            return Optional.of("lsn " + PostgresCutover.scalar(c, "SELECT pg_current_wal_lsn()::text"));
        } catch (SQLException e) {
            LOG.warn("could not read the target's WAL position: {}", e.getMessage());
            return Optional.empty();
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
            try {
                st.execute("SET LOCAL lock_timeout = '5s'");
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
                    created.add(trigger.table() + "." + trigger.name());
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
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
     * Before replayed rows are applied again (an abort, a restart past the point of no return): the triggers that would
     * fire on them are dropped. Asks the target only when the source is down (then all the plan tables' triggers that fire
     * in replica mode go). Returns what it did.
     */
    String close() {
        boolean replica = replicaRoleAllowed();
        List<String> dropped = new ArrayList<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            for (Map.Entry<String, TableId> t : targetTriggers(c, replica).entrySet()) {
                st.execute("DROP TRIGGER IF EXISTS " + PostgresDialect.quote(t.getKey()) + " ON " + PostgresDialect.quote(t.getValue()));
                dropped.add(t.getValue() + "." + t.getKey());
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("dropping the triggers on the target", e);
        }
        if (dropped.isEmpty()) {
            return replica ? "triggers kept: the apply runs with session_replication_role = replica, they do not fire on replayed rows"
                    : "no trigger on the target's tables";
        }
        return "triggers dropped: " + dropped;
    }

    /** The target's triggers on the plan's tables that fire on replayed rows (all of them when the apply cannot use the replica role). */
    private Map<String, TableId> targetTriggers(Connection c, boolean replica) throws SQLException {
        Map<String, TableId> found = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT t.tgname, t.tgenabled FROM pg_trigger t WHERE NOT t.tgisinternal "
                + "AND t.tgrelid = to_regclass(?)")) {
            for (TableId table : targetTables(c)) {
                ps.setString(1, PostgresDialect.quote(table));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String enabled = rs.getString(2);
                        if (!replica || "R".equals(enabled) || "A".equals(enabled)) {
                            found.put(rs.getString(1), table);
                        }
                    }
                }
            }
        }
        return found;
    }

    private List<TableId> targetTables(Connection c) throws SQLException {
        List<TableId> list = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
                + "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'migrator')")) {
            while (rs.next()) {
                if (plan.tables().includes(rs.getString(1), rs.getString(2))) {
                    list.add(new TableId(rs.getString(1), rs.getString(2)));
                }
            }
        }
        return list;
    }

    /** Whether the migration user may set session_replication_role (the apply's way to keep triggers and FKs quiet). */
    private boolean replicaRoleAllowed() {
        try (Connection c = pool.getConnection()) {
            boolean auto = c.getAutoCommit();
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.execute("SET LOCAL session_replication_role = replica");
                return true;
            } catch (SQLException e) {
                return false;
            } finally {
                c.rollback();
                c.setAutoCommit(auto);
            }
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

    private static boolean has(Connection c, String role, TableId table, String privilege) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT coalesce(has_table_privilege(?, to_regclass(?), ?), false)")) {
            ps.setString(1, role);
            ps.setString(2, PostgresDialect.quote(table));
            ps.setString(3, privilege);
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
