package io.migrator.connectors.postgres;

import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.SwitchStep;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.CutoverCheck;
import java.net.InetAddress;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.postgresql.replication.LogSequenceNumber;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cutover's PostgreSQL parts on the source. The {@code revoke} freeze takes INSERT, UPDATE, DELETE and TRUNCATE on
 * the plan's tables from the application's roles (each revoked grant recorded in {@code migrator.revoked_grants} in the
 * same transaction, so an abort or a restart restores exactly those) and ends the transactions their sessions had open;
 * migrator's own role keeps its privileges (the fence marker, reverse replication). The same revoke is the lasting
 * freeze after the switch for every method. {@code default_transaction_read_only} is no freeze: any session may unset it.
 */
final class PostgresCutover {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresCutover.class);
    static final List<String> DML = List.of("INSERT", "UPDATE", "DELETE", "TRUNCATE");
    private static final String GRANTS = PostgresDialect.quote(PostgresHeartbeat.SCHEMA) + "." + PostgresDialect.quote("revoked_grants");

    private final Plan plan;
    private final DataSource pool;
    private final Supplier<List<TableId>> tables;

    PostgresCutover(Plan plan, DataSource pool, Supplier<List<TableId>> tables) {
        this.plan = plan;
        this.pool = pool;
        this.tables = tables;
    }

    /** One privilege of a role on a table, as aclexplode shows it. */
    record Grant(String role, TableId table, String privilege, boolean grantable, String grantor, String owner) {
    }

    List<CutoverCheck> checks(CutoverCheck.Context context) {
        List<CutoverCheck> checks = new ArrayList<>();
        String freeze = plan.cutover().freeze();
        List<String> roles = context.applicationUsers();
        try (Connection c = pool.getConnection()) {
            String self = scalar(c, "SELECT current_user");
            boolean superuser = "on".equals(scalar(c, "SHOW is_superuser"));
            if ("revoke".equals(freeze) && roles.isEmpty()) {
                checks.add(CutoverCheck.fail("application roles", "freeze: revoke takes the application's privileges, and "
                        + "cutover.applicationUsers names no role", "list the roles the application logs in as in cutover.applicationUsers"));
            }
            List<String> existing = new ArrayList<>();
            for (String role : roles) {
                String name = "application role " + role;
                try (PreparedStatement ps = c.prepareStatement("SELECT rolsuper FROM pg_roles WHERE rolname = ?")) {
                    ps.setString(1, role);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next()) {
                            checks.add(CutoverCheck.fail(name, "does not exist on the source", "name the application's roles in cutover.applicationUsers"));
                        } else if (role.equals(self)) {
                            checks.add(CutoverCheck.fail(name, "is migrator's own role: revoking it would stop migrator's fence and reverse "
                                    + "replication, and its writes cannot be told from the application's", "give the application a role of its own"));
                        } else if (rs.getBoolean(1)) {
                            checks.add(CutoverCheck.fail(name, "is a superuser: privileges do not bind it, no revoke can stop its writes",
                                    "let the application log in as an ordinary role, or freeze with pgbouncer or a command (and accept that "
                                            + "this role can still write to the old source after the switch)"));
                        } else {
                            existing.add(role);
                        }
                    }
                }
            }
            if (!existing.isEmpty()) {
                checks.add(revocable(c, existing, superuser));
                checks.add(signalling(c, superuser));
                checks.add(otherWriters(c, existing));
            }
            checks.add(prepared(c));
            checks.add(transactions(c, existing, context.maxDowntime()));
            checks.add(PostgresHeartbeat.messages(c) ? CutoverCheck.pass("fence marker", "a logical decoding message (PostgreSQL 14+)")
                    : PostgresHeartbeat.exists(c) ? CutoverCheck.pass("fence marker", PostgresHeartbeat.TABLE_SQL + " exists")
                    : CutoverCheck.fail("fence marker", "the source has no " + PostgresHeartbeat.TABLE_SQL + ": the fence writes its marker there",
                    "GRANT CREATE ON DATABASE " + plan.source().database() + " TO the migration user and restart the worker"));
            if ("pgbouncer".equals(freeze) && !existing.isEmpty()) {
                checks.add(bypassing(c, existing));
            }
            if (plan.cutover().reverse() && !context.rollback()) {
                checks.add(reverseWrites(c, superuser));
            }
            if (roles.isEmpty() && !"revoke".equals(freeze)) {
                checks.add(CutoverCheck.warn("lasting freeze", "cutover.applicationUsers names no role: after the switch nothing stops a "
                        + "client that connects to the old source directly", "list the application's roles in cutover.applicationUsers"));
            }
        } catch (SQLException e) {
            checks.add(CutoverCheck.fail("source", "the source did not answer the cutover checks: " + e.getMessage(), "check the source"));
        }
        return checks;
    }

    /**
     * Reverse replication writes the new server's changes into this server with migrator's own login after the switch: that
     * login needs INSERT, UPDATE, DELETE and TRUNCATE on the plan's tables here, and — when they have triggers — the right
     * to set session_replication_role (the apply's way to keep them from firing a second time on rows that already carry
     * their effects).
     */
    private CutoverCheck reverseWrites(Connection c, boolean superuser) throws SQLException {
        String name = "reverse replication";
        String off = "; or cut over without a way back: cutover.reverse: false";
        List<String> lacking = new ArrayList<>();
        String example = null;
        for (TableId table : tables.get()) {
            List<String> lacks = new ArrayList<>();
            for (String privilege : DML) {
                try (PreparedStatement ps = c.prepareStatement("SELECT has_table_privilege(current_user, ?::regclass, ?)")) {
                    ps.setString(1, PostgresDialect.quote(table));
                    ps.setString(2, privilege);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (rs.next() && !rs.getBoolean(1)) {
                            lacks.add(privilege);
                        }
                    }
                }
            }
            if (!lacks.isEmpty()) {
                lacking.add(table + " (" + String.join(", ", lacks) + ")");
                example = example != null ? example : "GRANT " + String.join(", ", lacks) + " ON " + PostgresDialect.quote(table) + " TO "
                        + PostgresDialect.quote(plan.source().user());
            }
        }
        if (!lacking.isEmpty()) {
            return CutoverCheck.fail(name, "migrator's login " + plan.source().user() + " may not write on the old source: "
                    + String.join(", ", lacking.subList(0, Math.min(6, lacking.size()))) + (lacking.size() > 6 ? ", ..." : "")
                    + "; reverse replication could not carry the new server's writes back", "grant it there (e.g. " + example + ")" + off);
        }
        if (!superuser && !replicaRoleAllowed(c) && triggered(c)) {
            return CutoverCheck.fail(name, "the plan's tables have triggers on the old source, and migrator's login may not set "
                    + "session_replication_role there: they would fire a second time on every row reverse replication writes",
                    "GRANT SET ON PARAMETER session_replication_role TO " + PostgresDialect.quote(plan.source().user())
                            + " (PostgreSQL 15+; on RDS the rds_superuser role may)" + off);
        }
        return CutoverCheck.pass(name, "migrator's login may write the plan's tables on the old source");
    }

    /** Whether a plan table has a trigger of its own (not a foreign key's) on this server. */
    private boolean triggered(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE NOT tgisinternal "
                + "AND tgrelid = ANY (?::text[]::regclass[]))")) {
            ps.setArray(1, c.createArrayOf("text", tables.get().stream().map(PostgresDialect::quote).toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    /** Whether this login may set session_replication_role (tried in a transaction rolled back). */
    static boolean replicaRoleAllowed(Connection c) throws SQLException {
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
    }

    /**
     * Every DML privilege the roles hold on a plan table (or one of its partitions) is a table-level grant to the role
     * itself, made by the table's owner, that migrator may revoke as that owner (a superuser, or a member of the owner):
     * REVOKE by anyone else silently revokes nothing. Column grants, PUBLIC and other roles' membership are named.
     */
    private CutoverCheck revocable(Connection c, List<String> roles, boolean superuser) throws SQLException {
        String name = "revocable privileges";
        List<Grant> direct = grants(c, roles);
        List<String> problems = new ArrayList<>();
        for (TableId table : frozenTables(c)) {
            for (String role : roles) {
                for (String privilege : DML) {
                    boolean onTable = PostgresPrivileges.has(c, role, table, privilege);
                    if (!onTable && PostgresPrivileges.columnPrivilege(c, role, table, privilege)) {
                        problems.add(role + " has " + privilege + " on columns of " + table + " (column grants are not revoked)");
                        continue;
                    }
                    if (!onTable) {
                        if (PostgresPrivileges.otherwise(c, role, table, privilege)) { // not inherited, but one SET ROLE away
                            problems.add(role + " may SET ROLE to a role that has " + privilege + " on " + table);
                        }
                        continue;
                    }
                    Grant grant = direct.stream().filter(g -> g.role().equals(role) && g.table().equals(table) && g.privilege().equals(privilege))
                            .findFirst().orElse(null);
                    if (grant == null || PostgresPrivileges.otherwise(c, role, table, privilege)) {
                        problems.add(role + " has " + privilege + " on " + table + " through PUBLIC or another role's membership");
                    } else if (!grant.grantor().equals(grant.owner())) {
                        problems.add(privilege + " on " + table + " was granted to " + role + " by " + grant.grantor() + ", not by the owner "
                                + grant.owner());
                    } else if (!superuser && !PostgresPrivileges.member(c, grant.owner())) {
                        problems.add("migrator is neither a superuser nor a member of " + grant.owner() + ", the owner of " + table);
                    }
                }
            }
        }
        if (problems.isEmpty()) {
            return CutoverCheck.pass(name, "the application roles' INSERT/UPDATE/DELETE/TRUNCATE are their own grants, revocable by migrator");
        }
        String shown = String.join("; ", problems.subList(0, Math.min(5, problems.size()))) + (problems.size() > 5 ? "; ..." : "");
        return CutoverCheck.fail(name, shown + ": revoking the roles' own grants would leave them able to write to the old source",
                "name the group roles that hold the grants in cutover.applicationUsers, REVOKE column grants and grants to PUBLIC in favour of "
                        + "table grants, and run migrator as a superuser or a member of the tables' owner");
    }

    /** Other roles that may write to the plan's tables: the freeze does not stop them (a warning), and owners that are application roles. */
    private CutoverCheck otherWriters(Connection c, List<String> roles) throws SQLException {
        List<String> found = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT r.rolname, o.rolname = r.rolname FROM pg_roles r, pg_class t JOIN pg_roles o "
                + "ON o.oid = t.relowner WHERE t.oid = to_regclass(?) AND r.rolcanlogin AND NOT r.rolsuper AND r.rolname <> current_user "
                + "AND NOT (r.rolname = ANY(?)) AND NOT EXISTS (SELECT 1 FROM unnest(?::text[]) a(name) JOIN pg_roles g ON g.rolname = a.name "
                + "WHERE pg_has_role(r.oid, g.oid, 'MEMBER')) AND (has_table_privilege(r.oid, t.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') "
                + "OR has_any_column_privilege(r.oid, t.oid, 'INSERT, UPDATE'))")) {
            ps.setArray(2, c.createArrayOf("text", roles.toArray()));
            ps.setArray(3, c.createArrayOf("text", roles.toArray()));
            for (TableId table : tables.get()) {
                ps.setString(1, PostgresDialect.quote(table));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        found.add(rs.getString(1) + (rs.getBoolean(2) ? " (owner)" : "") + " on " + table);
                    }
                }
            }
        }
        List<String> owners = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT o.rolname FROM pg_class t JOIN pg_roles o ON o.oid = t.relowner "
                + "WHERE t.oid = to_regclass(?) AND o.rolname = ANY(?)")) {
            ps.setArray(2, c.createArrayOf("text", roles.toArray()));
            for (TableId table : tables.get()) {
                ps.setString(1, PostgresDialect.quote(table));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        owners.add(rs.getString(1) + " owns " + table);
                    }
                }
            }
        }
        if (found.isEmpty() && owners.isEmpty()) {
            return CutoverCheck.pass("other writers", "no other login role may write to the plan's tables");
        }
        List<String> parts = new ArrayList<>();
        if (!found.isEmpty()) {
            parts.add(found.size() + " other login role(s) may write to the plan's tables and are not frozen ("
                    + String.join(", ", found.subList(0, Math.min(4, found.size()))) + (found.size() > 4 ? ", ..." : "")
                    + "): their writes after the fence would stay on the old source");
        }
        if (!owners.isEmpty()) {
            parts.add(String.join(", ", owners) + ": an owner may grant itself back what the freeze revokes");
        }
        return CutoverCheck.warn("other writers", String.join("; ", parts), "name every role that writes in cutover.applicationUsers, "
                + "or make sure none of them runs during the cutover");
    }

    private CutoverCheck signalling(Connection c, boolean superuser) throws SQLException {
        boolean may = superuser || "t".equals(scalar(c, "SELECT pg_has_role(current_user, 'pg_signal_backend', 'MEMBER')"));
        if (may) {
            return CutoverCheck.pass("ending transactions", "migrator may end the application's transactions (pg_terminate_backend)");
        }
        String message = "the migration user may not end the application's open transactions (pg_terminate_backend): a transaction open "
                + "at the freeze could still commit";
        String remedy = "GRANT pg_signal_backend TO the migration user (on RDS: rds_superuser has it)";
        return "revoke".equals(plan.cutover().freeze()) ? CutoverCheck.fail("ending transactions", message, remedy)
                : CutoverCheck.warn("ending transactions", message + " after the switch", remedy);
    }

    private static CutoverCheck prepared(Connection c) throws SQLException {
        String count = scalar(c, "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()");
        return "0".equals(count) ? CutoverCheck.pass("prepared transactions", "none")
                : CutoverCheck.fail("prepared transactions", count + " prepared (two-phase) transaction(s) on the source: they commit outside "
                + "any session, no freeze stops them", "COMMIT PREPARED or ROLLBACK PREPARED them (pg_prepared_xacts), then cut over");
    }

    private static CutoverCheck transactions(Connection c, List<String> roles, Duration budget) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT count(*), coalesce(max(extract(epoch FROM now() - xact_start)), 0) "
                + "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
                + "AND xact_start IS NOT NULL AND now() - xact_start > ? * interval '1 millisecond' AND application_name <> 'migrator'")) {
            ps.setLong(1, budget.toMillis());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getInt(1) == 0) {
                    return CutoverCheck.pass("long transactions", "none open longer than the budget");
                }
                return CutoverCheck.warn("long transactions", rs.getInt(1) + " transaction(s) open longer than the budget (the oldest "
                        + Math.round(rs.getDouble(2)) + " s): a pgbouncer PAUSE waits for them, a revoke ends those of the application's roles",
                        "find them in pg_stat_activity; end them or cut over later");
            }
        }
    }

    /** Sessions of the application's roles that do not come from the pgbouncer host: PAUSE does not stop them. */
    private CutoverCheck bypassing(Connection c, List<String> roles) throws SQLException {
        Set<String> proxies = new LinkedHashSet<>();
        for (SwitchStep step : plan.cutover().switchSteps()) {
            if (step instanceof SwitchStep.Pgbouncer p) {
                String host = p.admin().substring(0, p.admin().lastIndexOf(':'));
                try {
                    for (InetAddress a : InetAddress.getAllByName(host)) {
                        proxies.add(a.getHostAddress());
                    }
                } catch (java.net.UnknownHostException e) {
                    proxies.add(host);
                }
            }
        }
        List<String> around = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT usename, coalesce(host(client_addr), 'local socket') FROM pg_stat_activity "
                + "WHERE datname = current_database() AND backend_type = 'client backend' AND usename = ANY(?)")) {
            ps.setArray(1, c.createArrayOf("text", roles.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (!proxies.contains(rs.getString(2))) {
                        around.add(rs.getString(1) + " from " + rs.getString(2));
                    }
                }
            }
        }
        if (around.isEmpty()) {
            return CutoverCheck.pass("sessions around the proxy", "every session of the application's roles comes from pgbouncer's host");
        }
        return CutoverCheck.warn("sessions around the proxy", around.size() + " session(s) of the application's roles reach the source "
                + "directly (" + String.join(", ", around.subList(0, Math.min(3, around.size()))) + "): PAUSE does not stop them, their writes "
                + "after the fence would stay on the old source", "point them at pgbouncer, or freeze with revoke");
    }

    /** The freeze (and the lasting freeze): the roles' DML revoked, recorded, checked, their open transactions ended. */
    String revoke(List<String> roles, Duration lockWait) {
        if (roles.isEmpty()) {
            return "no application role named: nothing revoked";
        }
        int revoked = 0;
        try (Connection c = pool.getConnection()) {
            boolean auto = c.getAutoCommit();
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.execute("SET LOCAL lock_timeout = " + Math.max(1, lockWait.toMillis()));
                st.execute("CREATE TABLE IF NOT EXISTS " + GRANTS + " (migration text NOT NULL, role text NOT NULL, schema_name text NOT NULL, "
                        + "table_name text NOT NULL, privilege text NOT NULL, grantable boolean NOT NULL, "
                        + "PRIMARY KEY (migration, role, schema_name, table_name, privilege))");
                try (PreparedStatement record = c.prepareStatement("INSERT INTO " + GRANTS + " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")) {
                    for (Grant g : grants(c, roles)) {
                        st.execute("REVOKE " + g.privilege() + " ON " + PostgresDialect.quote(g.table()) + " FROM " + PostgresDialect.quote(g.role()));
                        record.setString(1, plan.name());
                        record.setString(2, g.role());
                        record.setString(3, g.table().schema());
                        record.setString(4, g.table().name());
                        record.setString(5, g.privilege());
                        record.setBoolean(6, g.grantable());
                        record.addBatch();
                        revoked++;
                    }
                    record.executeBatch();
                }
                List<String> left = new ArrayList<>();
                for (TableId table : frozenTables(c)) {
                    for (String role : roles) {
                        for (String privilege : DML) {
                            if (PostgresPrivileges.has(c, role, table, privilege) || PostgresPrivileges.columnPrivilege(c, role, table, privilege)
                                    || PostgresPrivileges.otherwise(c, role, table, privilege)) {
                                left.add(role + " " + privilege + " on " + table);
                            }
                        }
                    }
                }
                if (!left.isEmpty()) {
                    throw new MigratorException(ErrorCode.CUTOVER_ABORTED, "after the revoke the application still holds "
                            + String.join(", ", left.subList(0, Math.min(5, left.size()))) + " (through PUBLIC, another role, or a grantor "
                            + "migrator is not): nothing was revoked", "see the precondition 'revocable privileges' in `migrator cutover PLAN --dry-run`");
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                io.migrator.connectors.jdbc.JdbcErrors.rollbackAfter(c, e);
                throw e;
            } finally {
                c.setAutoCommit(auto);
            }
            int ended = endTransactions(c, roles, lockWait);
            return revoked + " grant(s) revoked from " + String.join(", ", roles) + ", " + ended + " open transaction(s) ended";
        } catch (SQLException e) {
            if ("55P03".equals(e.getSQLState())) {
                throw new MigratorException(ErrorCode.CUTOVER_ABORTED, "revoking the application's privileges waited longer than "
                        + lockWait.toMillis() + " ms for a lock: " + e.getMessage(), "look for DDL or long locks on the plan's tables, then cut over again");
            }
            throw PostgresErrors.translate("revoking the application's privileges on the source", e);
        }
    }

    /**
     * Ends the sessions of the roles (and their members) that have a transaction open: a statement that passed its
     * privilege check before the revoke could still commit. Waits until they are gone. Returns how many.
     */
    private static int endTransactions(Connection c, List<String> roles, Duration wait) throws SQLException {
        List<Integer> pids = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT pid FROM pg_stat_activity s WHERE datname = current_database() "
                + "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND xact_start IS NOT NULL "
                + "AND EXISTS (SELECT 1 FROM unnest(?::text[]) r(name) JOIN pg_roles g ON g.rolname = r.name "
                + "WHERE pg_has_role(s.usesysid, g.oid, 'MEMBER')) "
                // a superuser is a member of every role: migrator's own sessions and a DBA's are not the application's
                + "AND s.usesysid NOT IN (SELECT oid FROM pg_roles WHERE rolsuper OR rolname = current_user)")) {
            ps.setArray(1, c.createArrayOf("text", roles.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    pids.add(rs.getInt(1));
                }
            }
        }
        if (pids.isEmpty()) {
            return 0;
        }
        Array array = c.createArrayOf("int4", pids.toArray());
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_terminate_backend(pid) FROM unnest(?::int4[]) p(pid)")) {
            ps.setArray(1, array);
            ps.executeQuery().close();
        }
        // a backend ends its transaction as it exits: wait until none of them is left
        long until = System.nanoTime() + Math.max(wait.toNanos(), Duration.ofMillis(200).toNanos());
        try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(?::int4[])")) {
            ps.setArray(1, array);
            while (true) {
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getInt(1) == 0) {
                        return pids.size();
                    }
                }
                if (System.nanoTime() > until) {
                    throw new MigratorException(ErrorCode.CUTOVER_ABORTED, "the application's sessions " + pids + " did not end within "
                            + wait.toMillis() + " ms of pg_terminate_backend", "look at what they wait for (pg_stat_activity), then cut over again");
                }
                sleep(5);
            }
        }
    }

    /**
     * The recorded grants given back and their records removed, in one transaction. A grant that cannot be given back (its
     * role was dropped meanwhile) keeps its record and is reported; the others are restored. Idempotent.
     */
    String restore() {
        return restore(plan.name());
    }

    /**
     * The grants a lasting freeze of the direction opposite to {@code migration} recorded on this server (role, table and
     * privilege joined by NUL): they come back when the traffic switches here.
     */
    static Set<String> revokedHere(Connection c, String migration) throws SQLException {
        Set<String> grants = new java.util.HashSet<>();
        if (!"t".equals(scalar(c, "SELECT to_regclass('" + PostgresHeartbeat.SCHEMA + ".revoked_grants') IS NOT NULL"))) {
            return grants;
        }
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT migration, role, schema_name, table_name, privilege FROM "
                + GRANTS)) {
            while (rs.next()) {
                String by = rs.getString(1);
                if (by.equals(Plan.reverseName(migration)) || Plan.reverseName(by).equals(migration)) {
                    grants.add(rs.getString(2) + "\u0000" + new TableId(rs.getString(3), rs.getString(4)) + "\u0000" + rs.getString(5));
                }
            }
        }
        return grants;
    }

    /** The migrations whose revoked grants this server records (none when it has no record table). */
    static List<String> revokedBy(DataSource pool) {
        List<String> migrations = new ArrayList<>();
        try (Connection c = pool.getConnection()) {
            if (!"t".equals(scalar(c, "SELECT to_regclass('" + PostgresHeartbeat.SCHEMA + ".revoked_grants') IS NOT NULL"))) {
                return migrations;
            }
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT DISTINCT migration FROM " + GRANTS)) {
                while (rs.next()) {
                    migrations.add(rs.getString(1));
                }
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading the grants a lasting freeze revoked", e);
        }
        return migrations;
    }

    /**
     * Where this server's lasting freeze came from the other direction (a rollback froze the new server under the reverse
     * plan's name, a cutover froze the old source under the forward plan's): the grants {@code migration} recorded here.
     */
    String restore(String migration) {
        try (Connection c = pool.getConnection()) {
            if (!"t".equals(scalar(c, "SELECT to_regclass('" + PostgresHeartbeat.SCHEMA + ".revoked_grants') IS NOT NULL"))) {
                return "no revoked grant to restore";
            }
            boolean auto = c.getAutoCommit();
            c.setAutoCommit(false);
            int restored = 0;
            Set<String> roles = new LinkedHashSet<>();
            List<String> failed = new ArrayList<>();
            try (Statement st = c.createStatement(); PreparedStatement ps = c.prepareStatement("SELECT role, schema_name, table_name, privilege, grantable FROM "
                    + GRANTS + " WHERE migration = ? ORDER BY 1, 2, 3, 4"); PreparedStatement done = c.prepareStatement("DELETE FROM " + GRANTS
                    + " WHERE migration = ? AND role = ? AND schema_name = ? AND table_name = ? AND privilege = ?")) {
                ps.setString(1, migration);
                List<Object[]> records = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        records.add(new Object[] {rs.getString(1), new TableId(rs.getString(2), rs.getString(3)), rs.getString(4), rs.getBoolean(5)});
                    }
                }
                for (Object[] r : records) {
                    String role = (String) r[0];
                    TableId table = (TableId) r[1];
                    String privilege = (String) r[2];
                    if (!DML.contains(privilege)) {
                        failed.add(privilege + " on " + table + " to " + role + " (not a privilege migrator revokes)");
                        continue;
                    }
                    st.execute("SAVEPOINT migrator_grant");
                    try {
                        st.execute("GRANT " + privilege + " ON " + PostgresDialect.quote(table) + " TO " + PostgresDialect.quote(role)
                                + (((Boolean) r[3]) ? " WITH GRANT OPTION" : ""));
                        done.setString(1, migration);
                        done.setString(2, role);
                        done.setString(3, table.schema());
                        done.setString(4, table.name());
                        done.setString(5, privilege);
                        done.executeUpdate();
                        st.execute("RELEASE SAVEPOINT migrator_grant");
                        restored++;
                        roles.add(role);
                    } catch (SQLException e) {
                        st.execute("ROLLBACK TO SAVEPOINT migrator_grant");
                        failed.add(privilege + " on " + table + " to " + role + " (" + e.getMessage() + ")");
                    }
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                io.migrator.connectors.jdbc.JdbcErrors.rollbackAfter(c, e);
                throw e;
            } finally {
                c.setAutoCommit(auto);
            }
            if (!failed.isEmpty()) {
                throw new MigratorException(ErrorCode.CUTOVER_FAILED, restored + " grant(s) restored, " + failed.size() + " could not be: "
                        + String.join("; ", failed.subList(0, Math.min(5, failed.size()))), "grant them by hand (they stay recorded in "
                        + GRANTS + " until restored: run the same command again once fixed)");
            }
            return restored == 0 ? "no revoked grant to restore" : restored + " grant(s) restored to " + String.join(", ", roles);
        } catch (SQLException e) {
            throw PostgresErrors.translate("restoring the application's privileges on the source", e);
        }
    }

    /**
     * The fence: the WAL insert position read inside the freeze (every acknowledged commit is before it, even with
     * synchronous_commit off), then a marker written past it, flushed, so the stream carries an event beyond the fence: a
     * transactional logical decoding message on PostgreSQL 14+, a heartbeat row before.
     */
    SourcePosition positionInFreeze() {
        try (Connection c = pool.getConnection()) {
            // a transaction prepared after the preconditions commits outside any session the freeze stops
            String prepared = scalar(c, "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()");
            if (!"0".equals(prepared)) {
                throw new MigratorException(ErrorCode.CUTOVER_ABORTED, prepared + " prepared (two-phase) transaction(s) on the source inside "
                        + "the freeze: they could commit past the fence", "COMMIT PREPARED or ROLLBACK PREPARED them (pg_prepared_xacts), then cut over again");
            }
            LogSequenceNumber lsn = LogSequenceNumber.valueOf(scalar(c, "SELECT pg_current_wal_insert_lsn()::text"));
            boolean auto = c.getAutoCommit();
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.execute("SET LOCAL synchronous_commit = on");
                // 14+: a transactional message, whose commit the stream carries like any transaction's; before, a heartbeat row
                st.execute(PostgresHeartbeat.messages(c) ? PostgresHeartbeat.fenceMessageQuery(plan.name()) : PostgresHeartbeat.query(plan.name()));
                c.commit();
            } finally {
                c.setAutoCommit(auto);
            }
            return PostgresPosition.start(lsn);
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading the WAL position inside the freeze", e);
        }
    }

    /** The roles' own DML grants on the plan's tables and their partitions (an owner's included: REVOKE takes them from an owner too). */
    private List<Grant> grants(Connection c, List<String> roles) throws SQLException {
        List<Grant> grants = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT r.rolname, a.privilege_type, a.is_grantable, g.rolname, o.rolname FROM pg_class t "
                + "JOIN pg_roles o ON o.oid = t.relowner, LATERAL aclexplode(coalesce(t.relacl, acldefault('r', t.relowner))) a "
                + "JOIN pg_roles r ON r.oid = a.grantee JOIN pg_roles g ON g.oid = a.grantor WHERE t.oid = to_regclass(?) AND r.rolname = ANY(?) "
                + "AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE') ORDER BY 1, 2")) {
            ps.setArray(2, c.createArrayOf("text", roles.toArray()));
            for (TableId table : frozenTables(c)) {
                ps.setString(1, PostgresDialect.quote(table));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        grants.add(new Grant(rs.getString(1), table, rs.getString(2), rs.getBoolean(3), rs.getString(4), rs.getString(5)));
                    }
                }
            }
        }
        return grants;
    }

    /**
     * The plan's tables and every partition or inheritance child below them: a write straight into a partition is checked
     * against the partition's own privileges, not its root's.
     */
    private List<TableId> frozenTables(Connection c) throws SQLException {
        List<TableId> all = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("WITH RECURSIVE tree(oid) AS (SELECT to_regclass(?)::oid UNION "
                + "SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid) SELECT n.nspname, t.relname FROM tree "
                + "JOIN pg_class t ON t.oid = tree.oid JOIN pg_namespace n ON n.oid = t.relnamespace ORDER BY tree.oid")) {
            for (TableId table : tables.get()) {
                ps.setString(1, PostgresDialect.quote(table));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        TableId member = new TableId(rs.getString(1), rs.getString(2));
                        if (!all.contains(member)) {
                            all.add(member);
                        }
                    }
                }
            }
        }
        return all;
    }

    static String scalar(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.CUTOVER_ABORTED, "interrupted while the application's sessions ended", "cut over again");
        }
    }
}
