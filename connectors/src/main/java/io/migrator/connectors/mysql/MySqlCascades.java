package io.migrator.connectors.mysql;

import io.migrator.core.change.RowKey;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import javax.sql.DataSource;

/**
 * The child rows a MySQL/MariaDB foreign key changes by cascade (ON DELETE CASCADE / SET NULL) are written to no binlog
 * event: a replica's own foreign keys redo them, and migrator applies with foreign_key_checks off. At the cutover, inside
 * the freeze and after the fence, this redoes them on the target: every parent key the stream changed since the last
 * clean validation that no longer exists on the target has its children deleted (CASCADE, then their own children, level
 * by level, at most 15 as the server) or their reference set to NULL (SET NULL). The source enforces its foreign keys, so
 * a child left pointing at a missing parent on the target is one the source changed by cascade. Foreign keys over the
 * parent's primary key with one column are redone; others are reported as not redone (a validation finds them).
 */
final class MySqlCascades {
    /** The server's own limit on cascade depth. */
    private static final int MAX_DEPTH = 15;

    private record ForeignKey(String name, String child, String childColumn, String parent, String parentColumn, String deleteRule) {
    }

    /** The source's cascading foreign keys as the cutover's preconditions read them, and those skipped. */
    private record Known(List<ForeignKey> keys, List<String> skipped) {
    }

    private final Plan plan;
    private final DataSource target;
    /** Read before the freeze by {@link #prepare}, used once by {@link #redo}: no connection or catalog query inside the freeze. */
    private volatile Known known;

    MySqlCascades(Plan plan, DataSource target) {
        this.plan = plan;
        this.target = target;
    }

    /**
     * Reads the source's cascading foreign keys before the freeze (the cutover's preconditions), so that the `cascades` step
     * inside it needs no new connection and no information_schema query (a run under load once spent a second there). A
     * failure here leaves {@link #redo} to read them itself.
     */
    void prepare() {
        List<String> skipped = new ArrayList<>();
        try (Connection c = MySqlFamilyConnector.connect(plan.source(), Duration.ofSeconds(10))) {
            known = new Known(foreignKeys(c, skipped), skipped);
        } catch (SQLException | RuntimeException e) {
            known = null;
        }
    }

    String redo(Map<TableId, List<RowKey>> changed) {
        List<ForeignKey> keys;
        List<String> skipped = new ArrayList<>();
        Known before = known;
        known = null; // once: the next cutover reads them again
        if (before != null) {
            keys = before.keys();
            skipped.addAll(before.skipped());
        } else {
            try (Connection c = MySqlFamilyConnector.connect(plan.source(), Duration.ofSeconds(10))) {
                keys = foreignKeys(c, skipped);
            } catch (SQLException e) {
                throw MySqlErrors.translate("reading the source's foreign keys", e);
            }
        }
        if (keys.isEmpty()) {
            return skipped.isEmpty() ? "no foreign key of the plan's tables cascades" : "not redone (composite or not over the parent's "
                    + "primary key; the next validation finds them): " + skipped;
        }
        Map<String, List<Object>> missing = new LinkedHashMap<>(); // table name -> key values no longer on the target
        List<String> done = new ArrayList<>();
        try (Connection c = target.getConnection()) {
            for (Map.Entry<TableId, List<RowKey>> e : changed.entrySet()) {
                String table = e.getKey().name();
                if (keys.stream().noneMatch(k -> k.parent().equals(table)) || e.getValue().isEmpty() || e.getValue().get(0).values().size() != 1) {
                    continue;
                }
                List<Object> gone = absent(c, table, e.getValue().get(0).columns().get(0), e.getValue().stream().map(k -> k.values().get(0)).toList());
                if (!gone.isEmpty()) {
                    missing.put(table, gone);
                }
            }
            for (int depth = 0; depth < MAX_DEPTH && !missing.isEmpty(); depth++) {
                Map<String, List<Object>> next = new LinkedHashMap<>();
                for (Map.Entry<String, List<Object>> parent : missing.entrySet()) {
                    for (ForeignKey fk : keys) {
                        if (fk.parent().equals(parent.getKey())) {
                            redo(c, fk, parent.getValue(), next, done);
                        }
                    }
                }
                missing = next;
            }
        } catch (SQLException e) {
            throw MySqlErrors.translate("redoing the source's foreign-key cascades on the target", e);
        }
        String result = done.isEmpty() ? "no child of a deleted parent was left on the target" : String.join("; ", done);
        return skipped.isEmpty() ? result : result + "; not redone (composite or not over the parent's primary key; the next validation "
                + "finds them): " + skipped;
    }

    /** The parent keys among {@code values} that no longer exist on the target. */
    private List<Object> absent(Connection c, String table, String column, List<Object> values) throws SQLException {
        List<Object> gone = new ArrayList<>(values);
        for (int from = 0; from < values.size(); from += 500) {
            List<Object> part = values.subList(from, Math.min(values.size(), from + 500));
            try (PreparedStatement ps = c.prepareStatement("SELECT " + MySqlDialect.quote(column) + " FROM " + target(table) + " WHERE "
                    + MySqlDialect.quote(column) + " IN (" + part.stream().map(v -> "?").collect(Collectors.joining(", ")) + ")")) {
                for (int i = 0; i < part.size(); i++) {
                    MySqlValues.bind(ps, i + 1, part.get(i));
                }
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        Object present = rs.getObject(1);
                        gone.removeIf(v -> String.valueOf(v).equals(String.valueOf(present)));
                    }
                }
            }
        }
        return gone;
    }

    /** One foreign key's cascade for these missing parents; the children deleted become the next level's missing parents. */
    private void redo(Connection c, ForeignKey fk, List<Object> parents, Map<String, List<Object>> next, List<String> done) throws SQLException {
        for (int from = 0; from < parents.size(); from += 1_000) { // placeholders per statement stay far below the server's 65535
            redoPart(c, fk, parents.subList(from, Math.min(parents.size(), from + 1_000)), next, done);
        }
    }

    private void redoPart(Connection c, ForeignKey fk, List<Object> parents, Map<String, List<Object>> next, List<String> done) throws SQLException {
        String where = MySqlDialect.quote(fk.childColumn()) + " IN (" + parents.stream().map(v -> "?").collect(Collectors.joining(", ")) + ")";
        int changedRows;
        if ("CASCADE".equals(fk.deleteRule())) {
            String childKey = primaryKey(c, plan.target().database(), fk.child());
            if (childKey != null) {
                try (PreparedStatement ps = c.prepareStatement("SELECT " + MySqlDialect.quote(childKey) + " FROM " + target(fk.child()) + " WHERE " + where)) {
                    bindAll(ps, parents);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            next.computeIfAbsent(fk.child(), t -> new ArrayList<>()).add(rs.getObject(1));
                        }
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + target(fk.child()) + " WHERE " + where)) {
                bindAll(ps, parents);
                changedRows = ps.executeUpdate();
            }
        } else {
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + target(fk.child()) + " SET " + MySqlDialect.quote(fk.childColumn())
                    + " = NULL WHERE " + where)) {
                bindAll(ps, parents);
                changedRows = ps.executeUpdate();
            }
        }
        if (changedRows > 0) {
            done.add(fk.child() + "." + fk.name() + ": " + changedRows + " row(s) " + ("CASCADE".equals(fk.deleteRule()) ? "deleted" : "set to NULL"));
        }
    }

    private static void bindAll(PreparedStatement ps, List<Object> values) throws SQLException {
        for (int i = 0; i < values.size(); i++) {
            MySqlValues.bind(ps, i + 1, values.get(i));
        }
    }

    /** A table's one-column primary key, or null (composite, or none): its children are then not followed further. */
    private static String primaryKey(Connection c, String schema, String table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? "
                + "AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION")) {
            ps.setString(1, schema);
            ps.setString(2, table);
            List<String> columns = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    columns.add(rs.getString(1));
                }
            }
            return columns.size() == 1 ? columns.get(0) : null;
        }
    }

    /** The plan's foreign keys whose ON DELETE changes children, over one column of the parent's one-column primary key. */
    private List<ForeignKey> foreignKeys(Connection c, List<String> skipped) throws SQLException {
        String db = plan.source().database();
        Map<String, List<String[]>> byConstraint = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT r.CONSTRAINT_NAME, r.TABLE_NAME, k.COLUMN_NAME, r.REFERENCED_TABLE_NAME, "
                + "k.REFERENCED_COLUMN_NAME, r.DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS r JOIN information_schema.KEY_COLUMN_USAGE k "
                + "ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME AND k.TABLE_NAME = r.TABLE_NAME "
                + "WHERE r.CONSTRAINT_SCHEMA = ? AND r.DELETE_RULE IN ('CASCADE', 'SET NULL') ORDER BY r.TABLE_NAME, r.CONSTRAINT_NAME, k.ORDINAL_POSITION")) {
            ps.setString(1, db);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (plan.tables().includes(db, rs.getString(2)) && plan.tables().includes(db, rs.getString(4))) {
                        byConstraint.computeIfAbsent(rs.getString(2) + "." + rs.getString(1), k -> new ArrayList<>()).add(new String[] {
                                rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5), rs.getString(6)});
                    }
                }
            }
        }
        List<ForeignKey> keys = new ArrayList<>();
        for (Map.Entry<String, List<String[]>> e : byConstraint.entrySet()) {
            String[] f = e.getValue().get(0);
            String parentKey = e.getValue().size() == 1 ? primaryKey(c, db, f[3]) : null;
            if (parentKey != null && parentKey.equals(f[4])) {
                keys.add(new ForeignKey(f[0], f[1], f[2], f[3], f[4], f[5]));
            } else {
                skipped.add(e.getKey());
            }
        }
        return keys;
    }

    private String target(String table) {
        return MySqlDialect.quote(plan.target().database()) + "." + MySqlDialect.quote(table);
    }
}
