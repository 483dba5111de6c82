package io.migrator.connectors.postgres;

import io.migrator.core.schema.TableId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * What a role may do on a table, asked of the server's own privilege functions: what the cutover's revoke freeze checks
 * before it revokes (PostgresCutover) and what the target must grant the application before it opens (PostgresTargetCutover).
 */
final class PostgresPrivileges {
    private PostgresPrivileges() {
    }

    /**
     * Whether the role would keep the privilege without its own grant: PUBLIC holds it, or a role it is a member of —
     * inherited, or reachable by SET ROLE (a NOINHERIT membership): either way its session can write.
     */
    static boolean otherwise(Connection c, String role, TableId table, String privilege) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT EXISTS (SELECT 1 FROM pg_roles r, pg_class t, "
                + "LATERAL aclexplode(coalesce(t.relacl, acldefault('r', t.relowner))) a WHERE r.rolname = ? AND t.oid = to_regclass(?) "
                + "AND a.privilege_type = ? AND (a.grantee = 0 OR (a.grantee <> r.oid AND pg_has_role(r.oid, a.grantee, 'MEMBER'))))")) {
            ps.setString(1, role);
            ps.setString(2, PostgresDialect.quote(table));
            ps.setString(3, privilege);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    /** Whether the role holds the privilege on the table itself (its own, by membership or through PUBLIC); false when either is gone. */
    static boolean has(Connection c, String role, TableId table, String privilege) throws SQLException {
        return privilege(c, "has_table_privilege", role, table, privilege);
    }

    /** Whether the role may insert or update some column of the table (a column grant, which a table REVOKE leaves). */
    static boolean columnPrivilege(Connection c, String role, TableId table, String privilege) throws SQLException {
        return (privilege.equals("INSERT") || privilege.equals("UPDATE")) && privilege(c, "has_any_column_privilege", role, table, privilege);
    }

    private static boolean privilege(Connection c, String function, String role, TableId table, String privilege) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT coalesce(" + function + "(?, to_regclass(?), ?), false)")) {
            ps.setString(1, role);
            ps.setString(2, PostgresDialect.quote(table));
            ps.setString(3, privilege);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    /** Whether migrator's own login is a member of the role (REVOKE as a table's owner needs it). */
    static boolean member(Connection c, String role) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_has_role(current_user, ?, 'MEMBER')")) {
            ps.setString(1, role);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }
}
