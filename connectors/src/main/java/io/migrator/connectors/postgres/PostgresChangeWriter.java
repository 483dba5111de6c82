package io.migrator.connectors.postgres;

import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import io.migrator.core.schema.TableId;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes change images into PostgreSQL inside the caller's transaction. Values are PostgreSQL input text (bytes for
 * bytea) cast to the target column's type. A full image is {@code INSERT ... ON CONFLICT (key) DO UPDATE}; an image with
 * unchanged TOAST columns updates only the columns it carries (the row exists unless a later change deletes it); a
 * delete deletes by key. Consecutive changes of the same shape go as one JDBC batch. The session runs with
 * {@code session_replication_role = replica} when allowed, so foreign keys and triggers do not fire twice: the source
 * checked them, and the batch order is per key, not per dependency.
 */
final class PostgresChangeWriter {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresChangeWriter.class);

    /** The target's column types and generated columns of a table. */
    record Columns(Map<String, String> types, java.util.Set<String> generated, java.util.Set<String> alwaysIdentity) {
    }

    private final Map<TableId, Columns> columns = new ConcurrentHashMap<>();
    private volatile Boolean replicaRole;

    void forgetAll() {
        columns.clear();
    }

    void write(Connection c, List<RowChange> changes) throws SQLException {
        replicaRole(c);
        int i = 0;
        while (i < changes.size()) {
            RowChange first = changes.get(i);
            int end = i + 1;
            while (end < changes.size() && sameShape(first, changes.get(end))) {
                end++;
            }
            writeGroup(c, changes.subList(i, end));
            i = end;
        }
    }

    private void replicaRole(Connection c) throws SQLException {
        if (Boolean.FALSE.equals(replicaRole)) {
            return;
        }
        if (Boolean.TRUE.equals(replicaRole)) {
            // known to be allowed: one round trip per transaction instead of three (a refusal now, its right revoked while
            // streaming, fails this transaction, which is retried, and the next one asks again behind a savepoint)
            try (Statement st = c.createStatement()) {
                st.execute("SET LOCAL session_replication_role = replica");
                return;
            } catch (SQLException e) {
                replicaRole = null;
                throw e;
            }
        }
        try (Statement st = c.createStatement()) {
            st.execute("SAVEPOINT migrator_role");
            try {
                st.execute("SET LOCAL session_replication_role = replica");
                st.execute("RELEASE SAVEPOINT migrator_role");
                replicaRole = true;
            } catch (SQLException e) {
                st.execute("ROLLBACK TO SAVEPOINT migrator_role");
                replicaRole = false;
                LOG.warn("the target user may not set session_replication_role ({}): foreign keys and triggers on the target fire while "
                        + "changes are applied; on RDS grant rds_superuser, or drop target triggers until cutover", e.getMessage());
            }
        }
    }

    /**
     * Changes of one shape share a statement: same table and kind and, for images, the same columns with the same ones left
     * unchanged. Compared pairwise, without building anything, since it runs for every change.
     */
    private static boolean sameShape(RowChange a, RowChange b) {
        if (a.getClass() != b.getClass() || !a.key().table().equals(b.key().table())) {
            return false;
        }
        if (a instanceof RowChange.Delete) {
            return true;
        }
        Map<String, Object> x = ((RowChange.Upsert) a).row();
        Map<String, Object> y = ((RowChange.Upsert) b).row();
        if (x.size() != y.size()) {
            return false;
        }
        // images of one relation list the same column names in the same order (the stream's own strings): compared side by
        // side first, the sets only when the order differs
        boolean sameOrder = true;
        var xi = x.entrySet().iterator();
        var yi = y.entrySet().iterator();
        while (xi.hasNext()) {
            Map.Entry<String, Object> e = xi.next();
            Map.Entry<String, Object> f = yi.next();
            if (e.getKey() != f.getKey() && !e.getKey().equals(f.getKey())) {
                sameOrder = false;
                break;
            }
            if ((e.getValue() == RowChange.UNCHANGED) != (f.getValue() == RowChange.UNCHANGED)) {
                return false;
            }
        }
        if (sameOrder) {
            return true;
        }
        if (!x.keySet().equals(y.keySet())) {
            return false;
        }
        for (Map.Entry<String, Object> e : x.entrySet()) {
            if ((e.getValue() == RowChange.UNCHANGED) != (y.get(e.getKey()) == RowChange.UNCHANGED)) {
                return false;
            }
        }
        return true;
    }

    private void writeGroup(Connection c, List<RowChange> group) throws SQLException {
        RowChange first = group.get(0);
        RowKey key = first.key();
        Columns cols = columns(c, key.table());
        String table = PostgresDialect.quote(key.table());
        String where = key.columns().stream().map(k -> PostgresDialect.quote(k) + " = ?::" + type(cols, key.table(), k))
                .collect(Collectors.joining(" AND "));
        if (first instanceof RowChange.Delete) {
            if (group.size() > 1) {
                deleteMany(c, group, cols);
                return;
            }
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + table + " WHERE " + where)) {
                bindKey(ps, 1, cols, first.key());
                ps.executeUpdate();
            }
            return;
        }
        Map<String, Object> image = ((RowChange.Upsert) first).row();
        List<String> names = new ArrayList<>();
        for (Map.Entry<String, Object> e : image.entrySet()) {
            if (e.getValue() != RowChange.UNCHANGED && !cols.generated().contains(e.getKey())) {
                names.add(e.getKey());
            }
        }
        if (RowChange.partial(image)) {
            // an identity GENERATED ALWAYS column can only be set on insert; its value does not change after
            List<String> set = names.stream().filter(n -> !key.columns().contains(n) && !cols.alwaysIdentity().contains(n)).toList();
            if (set.isEmpty()) {
                return; // only unchanged columns besides the key: nothing to write
            }
            String sql = "UPDATE " + table + " SET " + set.stream().map(n -> PostgresDialect.quote(n) + " = ?::" + type(cols, key.table(), n))
                    .collect(Collectors.joining(", ")) + " WHERE " + where;
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                for (RowChange change : group) {
                    Map<String, Object> row = ((RowChange.Upsert) change).row();
                    int p = 1;
                    for (String n : set) {
                        bind(ps, p++, cols, key.table(), n, row.get(n));
                    }
                    bindKey(ps, p, cols, change.key());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            return;
        }
        List<String> updates = names.stream().filter(n -> !key.columns().contains(n) && !cols.alwaysIdentity().contains(n)).toList();
        String conflict = " ON CONFLICT (" + key.columns().stream().map(PostgresDialect::quote).collect(Collectors.joining(", ")) + ") DO "
                + (updates.isEmpty() ? "NOTHING" : "UPDATE SET " + updates.stream().map(n -> PostgresDialect.quote(n) + " = EXCLUDED." + PostgresDialect.quote(n))
                .collect(Collectors.joining(", ")));
        String into = "INSERT INTO " + table + " (" + names.stream().map(PostgresDialect::quote).collect(Collectors.joining(", ")) + ") OVERRIDING SYSTEM VALUE ";
        String sql = into + "VALUES (" + names.stream().map(n -> "?::" + type(cols, key.table(), n)).collect(Collectors.joining(", ")) + ")" + conflict;
        try (Statement st = c.createStatement()) {
            st.execute("SAVEPOINT migrator_upserts");
            try {
                if (group.size() > 1) {
                    upsertMany(c, into, conflict, group, names, cols);
                } else {
                    try (PreparedStatement ps = c.prepareStatement(sql)) {
                        Map<String, Object> row = ((RowChange.Upsert) first).row();
                        int p = 1;
                        for (String n : names) {
                            bind(ps, p++, cols, key.table(), n, row.get(n));
                        }
                        ps.executeUpdate();
                    }
                }
                st.execute("RELEASE SAVEPOINT migrator_upserts");
            } catch (SQLException e) {
                // a unique key other than the primary one collides, or one statement met the same row twice (keys equal on the
                // target that differ as text): row by row, replacing conflicting rows
                if (!uniqueViolation(e) && !"21000".equals(e.getSQLState())) {
                    throw e;
                }
                st.execute("ROLLBACK TO SAVEPOINT migrator_upserts");
                upsertReplacingConflicts(c, st, group, sql, names, cols);
            }
        }
    }

    /** Rows per multi-row statement: one parameter per column, each a text array of this many values. */
    private static final int ROWS_PER_STATEMENT = 2000;
    /** Characters of values per multi-row statement: large (TOAST-sized) values go in fewer rows, so memory stays bounded. */
    private static final long CHARS_PER_STATEMENT = 8L << 20;

    /** Where the statement starting at row {@code from} ends: at most {@value #ROWS_PER_STATEMENT} rows and about 8M characters. */
    private static int partEnd(List<RowChange> group, int from, List<String> names) {
        long chars = 0;
        int end = from;
        while (end < group.size() && end - from < ROWS_PER_STATEMENT && (end == from || chars < CHARS_PER_STATEMENT)) {
            Map<String, Object> row = ((RowChange.Upsert) group.get(end)).row();
            for (String n : names) {
                Object v = row.get(n);
                chars += v == null ? 1 : v instanceof byte[] b ? 2L * b.length : v instanceof String str ? str.length() : 16;
            }
            end++;
        }
        return end;
    }

    /**
     * A group of full images as one statement per {@value #ROWS_PER_STATEMENT} rows (fewer when values are large): each
     * column travels as one text array and is cast to the column's type ({@code unnest(?::text[], ...)}), so the target
     * parses, plans and starts its executor once per statement instead of once per row. The batch holds each key once
     * (it is coalesced).
     */
    private void upsertMany(Connection c, String into, String conflict, List<RowChange> group, List<String> names, Columns cols) throws SQLException {
        TableId table = group.get(0).key().table();
        StringBuilder select = new StringBuilder(into).append("SELECT ");
        StringBuilder args = new StringBuilder();
        StringBuilder alias = new StringBuilder();
        for (int i = 0; i < names.size(); i++) {
            String sep = i == 0 ? "" : ", ";
            select.append(sep).append("u.c").append(i).append("::").append(type(cols, table, names.get(i)));
            args.append(sep).append("?::text[]");
            alias.append(sep).append('c').append(i);
        }
        String sql = select.append(" FROM unnest(").append(args).append(") AS u(").append(alias).append(")").append(conflict).toString();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int from = 0, end; from < group.size(); from = end) {
                end = partEnd(group, from, names);
                List<RowChange> part = group.subList(from, end);
                for (int i = 0; i < names.size(); i++) {
                    String name = names.get(i);
                    String[] values = new String[part.size()];
                    for (int r = 0; r < values.length; r++) {
                        values[r] = text(cols, name, ((RowChange.Upsert) part.get(r)).row().get(name));
                    }
                    ps.setArray(i + 1, c.createArrayOf("text", values));
                }
                ps.executeUpdate();
            }
        }
    }

    /** Deletes by key, {@value #ROWS_PER_STATEMENT} keys a statement, the key columns as text arrays. */
    private void deleteMany(Connection c, List<RowChange> group, Columns cols) throws SQLException {
        RowKey first = group.get(0).key();
        StringBuilder match = new StringBuilder();
        StringBuilder args = new StringBuilder();
        StringBuilder alias = new StringBuilder();
        for (int i = 0; i < first.columns().size(); i++) {
            String column = first.columns().get(i);
            match.append(i == 0 ? "" : " AND ").append("m.").append(PostgresDialect.quote(column)).append(" = u.k").append(i).append("::")
                    .append(type(cols, first.table(), column));
            args.append(i == 0 ? "" : ", ").append("?::text[]");
            alias.append(i == 0 ? "" : ", ").append('k').append(i);
        }
        String sql = "DELETE FROM " + PostgresDialect.quote(first.table()) + " AS m USING unnest(" + args + ") AS u(" + alias + ") WHERE " + match;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int from = 0; from < group.size(); from += ROWS_PER_STATEMENT) {
                List<RowChange> part = group.subList(from, Math.min(group.size(), from + ROWS_PER_STATEMENT));
                for (int i = 0; i < first.columns().size(); i++) {
                    String column = first.columns().get(i);
                    String[] values = new String[part.size()];
                    for (int r = 0; r < values.length; r++) {
                        values[r] = text(cols, column, part.get(r).key().values().get(i));
                    }
                    ps.setArray(i + 1, c.createArrayOf("text", values));
                }
                ps.executeUpdate();
            }
        }
    }

    /** A value as the input text of its column's type: bytes of a bytea column in hex ({@code \x...}). */
    private static String text(Columns cols, String column, Object value) {
        if (value == null) {
            return null;
        }
        if (value instanceof byte[] b) {
            if (!"bytea".equals(cols.types().get(column))) {
                return new String(b, StandardCharsets.UTF_8); // bytes for a column that is not bytea: their text
            }
            char[] hex = new char[2 + b.length * 2];
            hex[0] = '\\';
            hex[1] = 'x';
            for (int i = 0; i < b.length; i++) {
                hex[2 + 2 * i] = HEX[(b[i] >> 4) & 0xF];
                hex[3 + 2 * i] = HEX[b[i] & 0xF];
            }
            return new String(hex);
        }
        return value.toString();
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static boolean uniqueViolation(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && "23505".equals(sql.getSQLState())) {
                return true;
            }
            if (t instanceof java.sql.BatchUpdateException batch && batch.getNextException() != null
                    && "23505".equals(batch.getNextException().getSQLState())) {
                return true;
            }
        }
        return false;
    }

    /**
     * One row at a time: a row whose image collides with another row on a unique key other than the primary key (keys
     * swapped between rows, applied in the order of each row's last change) first removes that other row, as MySQL's
     * writer replaces it. The removed row's own later change in the stream writes it back; the source never held both.
     */
    private void upsertReplacingConflicts(Connection c, Statement st, List<RowChange> group, String sql, List<String> names, Columns cols)
            throws SQLException {
        TableId table = group.get(0).key().table();
        List<List<String>> uniques = uniqueKeys(c, table);
        for (RowChange change : group) {
            Map<String, Object> row = ((RowChange.Upsert) change).row();
            for (int attempt = 0; ; attempt++) {
                st.execute("SAVEPOINT migrator_row");
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    int p = 1;
                    for (String n : names) {
                        bind(ps, p++, cols, table, n, row.get(n));
                    }
                    ps.executeUpdate();
                    st.execute("RELEASE SAVEPOINT migrator_row");
                    break;
                } catch (SQLException e) {
                    st.execute("ROLLBACK TO SAVEPOINT migrator_row");
                    if (!uniqueViolation(e) || attempt > 0 || uniques.isEmpty()) {
                        throw e;
                    }
                    deleteConflicts(c, change.key(), row, uniques, cols);
                }
            }
        }
    }

    private void deleteConflicts(Connection c, RowKey key, Map<String, Object> row, List<List<String>> uniques, Columns cols) throws SQLException {
        String notThis = key.columns().stream().map(k -> PostgresDialect.quote(k) + " = ?::" + type(cols, key.table(), k))
                .collect(Collectors.joining(" AND "));
        for (List<String> unique : uniques) {
            if (!row.keySet().containsAll(unique) || unique.stream().anyMatch(u -> row.get(u) == null || row.get(u) == RowChange.UNCHANGED)) {
                continue; // NULLs never collide; an unsent value is the target's own
            }
            String match = unique.stream().map(u -> PostgresDialect.quote(u) + " = ?::" + type(cols, key.table(), u)).collect(Collectors.joining(" AND "));
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + PostgresDialect.quote(key.table()) + " WHERE " + match
                    + " AND NOT (" + notThis + ")")) {
                int p = 1;
                for (String u : unique) {
                    bind(ps, p++, cols, key.table(), u, row.get(u));
                }
                bindKey(ps, p, cols, key);
                int removed = ps.executeUpdate();
                if (removed > 0) {
                    LOG.debug("removed {} row(s) of {} holding unique key {} that {} now takes", removed, key.table(), unique, key);
                }
            }
        }
    }

    /** The table's unique keys other than the primary key, as column lists (plain column indexes only, no partial ones). */
    private static List<List<String>> uniqueKeys(Connection c, TableId table) throws SQLException {
        List<List<String>> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT i.indexrelid, array_agg(a.attname ORDER BY k.ord) FROM pg_index i
                JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) ON true
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                WHERE i.indrelid = ?::regclass AND i.indisunique AND NOT i.indisprimary AND i.indpred IS NULL AND i.indexprs IS NULL
                GROUP BY i.indexrelid""")) {
            ps.setString(1, PostgresDialect.quote(table));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(List.of((String[]) rs.getArray(2).getArray()));
                }
            }
        }
        return out;
    }

    private void bindKey(PreparedStatement ps, int from, Columns cols, RowKey key) throws SQLException {
        for (int i = 0; i < key.columns().size(); i++) {
            bind(ps, from + i, cols, key.table(), key.columns().get(i), key.values().get(i));
        }
    }

    private static void bind(PreparedStatement ps, int index, Columns cols, TableId table, String column, Object value) throws SQLException {
        boolean bytea = "bytea".equals(cols.types().get(column));
        if (value == null) {
            ps.setNull(index, bytea ? Types.BINARY : Types.VARCHAR);
        } else if (value instanceof byte[] b) {
            if (bytea) {
                ps.setBytes(index, b);
            } else {
                ps.setString(index, new String(b, StandardCharsets.UTF_8)); // bytes for a column that is not bytea: their text
            }
        } else {
            ps.setString(index, value.toString());
        }
    }

    private static String type(Columns cols, TableId table, String column) {
        String type = cols.types().get(column);
        if (type == null) {
            throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.PREFLIGHT_FAILED, "the source changed column "
                    + column + " of " + table + ", which the target table does not have",
                    "the source's table changed (ALTER TABLE ... ADD COLUMN); make the same change on the target, then `migrator run` again "
                            + "resumes from the last applied change");
        }
        return type;
    }

    private Columns columns(Connection c, TableId table) throws SQLException {
        Columns known = columns.get(table);
        if (known != null) {
            return known;
        }
        Map<String, String> types = new LinkedHashMap<>();
        java.util.Set<String> generated = new java.util.HashSet<>();
        java.util.Set<String> always = new java.util.HashSet<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '', "
                + "a.attidentity = 'a' "
                + "FROM pg_attribute a WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped")) {
            ps.setString(1, PostgresDialect.quote(table));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    types.put(rs.getString(1), rs.getString(2));
                    if (rs.getBoolean(3)) {
                        generated.add(rs.getString(1));
                    }
                    if (rs.getBoolean(4)) {
                        always.add(rs.getString(1));
                    }
                }
            }
        }
        Columns read = new Columns(new HashMap<>(types), generated, always);
        columns.put(table, read);
        return read;
    }
}
