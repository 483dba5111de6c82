package io.migrator.connectors.postgres;

import io.migrator.core.plan.TableFilter;
import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Table definitions read from a PostgreSQL catalog and the statements that recreate them on a PostgreSQL target, in
 * the order the copy needs: types first (enums, domains), then each table with its columns, defaults, identity and
 * primary key; secondary indexes and constraints (unique, check, foreign keys) are {@link #deferred deferred} until
 * after the bulk copy, like the MySQL writer's secondary indexes. Everything is read through {@code format_type},
 * {@code pg_get_expr}, {@code pg_get_indexdef} and {@code pg_get_constraintdef}, so the text is the server's own.
 * Sequences behind {@code serial} defaults are created before their tables ({@link #sequences}) and owned by their
 * columns afterwards; {@link #syncSequences} brings every sequence of the plan's tables (identity ones too) to at least
 * the source's value, never lowering one.
 */
final class PostgresSchema {
    private PostgresSchema() {
    }

    /** The plan's tables: every ordinary or partitioned table of the database's user schemas that the filter selects. */
    static List<TableDef> tables(Connection c, TableFilter filter) throws SQLException {
        List<TableDef> out = new ArrayList<>();
        List<long[]> oids = new ArrayList<>();
        List<TableId> ids = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("""
                SELECT c.oid, n.nspname, c.relname, GREATEST(c.reltuples, 0)::bigint FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'migrator') AND n.nspname NOT LIKE 'pg_toast%'
                  AND n.nspname NOT LIKE 'pg_temp%'
                ORDER BY 2, 3""")) {
            while (rs.next()) {
                if (filter.includes(rs.getString(2), rs.getString(3))) {
                    oids.add(new long[] {rs.getLong(1), rs.getLong(4)});
                    ids.add(new TableId(rs.getString(2), rs.getString(3)));
                }
            }
        }
        for (int i = 0; i < ids.size(); i++) {
            out.add(table(c, oids.get(i)[0], ids.get(i), oids.get(i)[1]));
        }
        return out;
    }

    private static int serverVersion(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT current_setting('server_version_num')::int")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static TableDef table(Connection c, long oid, TableId id, long rows) throws SQLException {
        List<ColumnDef> columns = new ArrayList<>();
        List<String> definitions = new ArrayList<>();
        int version = serverVersion(c);
        String generatedColumn = version >= 120000 ? "a.attgenerated" : "''::\"char\""; // generated columns arrived in 12
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, %s, a.attidentity,
                       pg_get_expr(d.adbin, d.adrelid), co.collname, cn.nspname,
                       (SELECT ' (INCREMENT BY ' || q.seqincrement || ' MINVALUE ' || q.seqmin || ' MAXVALUE ' || q.seqmax
                               || ' START WITH ' || q.seqstart || ' CACHE ' || q.seqcache || CASE WHEN q.seqcycle THEN ' CYCLE' ELSE '' END || ')'
                        FROM pg_sequence q WHERE a.attidentity <> '' AND q.seqrelid = pg_get_serial_sequence(
                               quote_ident(n2.nspname) || '.' || quote_ident(c2.relname), a.attname)::regclass)
                FROM pg_attribute a
                LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                JOIN pg_class c2 ON c2.oid = a.attrelid JOIN pg_namespace n2 ON n2.oid = c2.relnamespace
                LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> (SELECT typcollation FROM pg_type WHERE oid = a.atttypid)
                LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
                WHERE a.attrelid = ? AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""".formatted(generatedColumn))) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String name = rs.getString(1);
                    String type = rs.getString(2);
                    boolean notNull = rs.getBoolean(3);
                    String generated = rs.getString(4);
                    String identity = rs.getString(5);
                    String expr = rs.getString(6);
                    boolean isGenerated = "s".equals(generated);
                    columns.add(new ColumnDef(name, type, !notNull, isGenerated));
                    StringBuilder d = new StringBuilder(PostgresDialect.quote(name)).append(' ').append(type);
                    if (rs.getString(7) != null) {
                        d.append(" COLLATE ").append(PostgresDialect.quote(rs.getString(8))).append('.').append(PostgresDialect.quote(rs.getString(7)));
                    }
                    if (isGenerated) {
                        d.append(" GENERATED ALWAYS AS (").append(expr).append(") STORED");
                    } else if ("a".equals(identity)) {
                        d.append(" GENERATED ALWAYS AS IDENTITY").append(rs.getString(9) == null ? "" : rs.getString(9));
                    } else if ("d".equals(identity)) {
                        d.append(" GENERATED BY DEFAULT AS IDENTITY").append(rs.getString(9) == null ? "" : rs.getString(9));
                    } else if (expr != null) {
                        d.append(" DEFAULT ").append(expr);
                    }
                    if (notNull) {
                        d.append(" NOT NULL");
                    }
                    definitions.add(d.toString());
                }
            }
        }
        List<String> key = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT a.attname FROM pg_index i JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) ON true
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                WHERE i.indrelid = ? AND i.indisprimary ORDER BY k.ord""")) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    key.add(rs.getString(1));
                }
            }
        }
        String keyIndex = null;
        if (!key.isEmpty()) {
            definitions.add("PRIMARY KEY (" + String.join(", ", key.stream().map(PostgresDialect::quote).toList()) + ")");
        } else {
            // no primary key: the REPLICA IDENTITY index (unique, not partial, NOT NULL columns) is the key its changes carry
            try (PreparedStatement ps = c.prepareStatement("""
                    SELECT ic.relname, a.attname FROM pg_class t JOIN pg_index i ON i.indrelid = t.oid AND i.indisreplident
                    JOIN pg_class ic ON ic.oid = i.indexrelid
                    JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) ON true
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                    WHERE t.oid = ? AND t.relreplident = 'i' ORDER BY k.ord""")) {
                ps.setLong(1, oid);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        keyIndex = rs.getString(1);
                        key.add(rs.getString(2));
                    }
                }
            }
        }
        String create = "CREATE TABLE " + PostgresDialect.quote(id) + " (\n  " + String.join(",\n  ", definitions) + "\n)" + partitionBy(c, oid);
        return new TableDef(id, columns, key, create, rows, keyIndex);
    }

    /** " PARTITION BY ..." for a partitioned table, else empty. */
    private static String partitionBy(Connection c, long oid) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT CASE WHEN relkind = 'p' THEN pg_get_partkeydef(oid) END FROM pg_class WHERE oid = ?")) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getString(1) != null ? " PARTITION BY " + rs.getString(1) : "";
            }
        }
    }

    /**
     * The partitions of a partitioned table, parents before their children, each {@code CREATE TABLE IF NOT EXISTS ...
     * PARTITION OF ... FOR VALUES ...} (sub-partitioned ones with their own PARTITION BY). Rows copied into the root are
     * routed by the target, and the stream reports changes under the root (publish_via_partition_root).
     */
    static List<String> partitions(Connection c, TableDef table) throws SQLException {
        List<String> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                WITH RECURSIVE tree AS (
                  SELECT i.inhrelid AS child, i.inhparent AS parent, 1 AS depth FROM pg_inherits i WHERE i.inhparent = ?::regclass
                  UNION ALL
                  SELECT i.inhrelid, i.inhparent, t.depth + 1 FROM pg_inherits i JOIN tree t ON i.inhparent = t.child)
                SELECT quote_ident(cn.nspname) || '.' || quote_ident(cc.relname), quote_ident(pn.nspname) || '.' || quote_ident(pc.relname),
                       pg_get_expr(cc.relpartbound, cc.oid), CASE WHEN cc.relkind = 'p' THEN pg_get_partkeydef(cc.oid) END
                FROM tree t JOIN pg_class cc ON cc.oid = t.child JOIN pg_namespace cn ON cn.oid = cc.relnamespace
                JOIN pg_class pc ON pc.oid = t.parent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                WHERE cc.relispartition ORDER BY t.depth, 1""")) {
            ps.setString(1, PostgresDialect.quote(table.id()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add("CREATE TABLE IF NOT EXISTS " + rs.getString(1) + " PARTITION OF " + rs.getString(2) + " " + rs.getString(3)
                            + (rs.getString(4) == null ? "" : " PARTITION BY " + rs.getString(4)));
                }
            }
        }
        return out;
    }

    /**
     * CREATE statements for the user-defined types the tables' columns use: enums, domains (with their default and
     * constraints), composite types and range types, arrays of them too, each after the types it is built from (a domain over
     * an enum, a composite holding a domain). Each is guarded so a restart can run it again; types in other schemas keep
     * their schema, which is created when missing. Built-in types and those an extension brings are left out (preflight
     * checks the extension is on the target).
     */
    static List<String> types(Connection c, List<TableDef> tables) throws SQLException {
        Set<String> statements = new LinkedHashSet<>();
        Set<Long> seen = new java.util.HashSet<>();
        for (TableDef table : tables) {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")) {
                ps.setString(1, PostgresDialect.quote(table.id()));
                try (ResultSet rs = ps.executeQuery()) {
                    List<Long> oids = new ArrayList<>();
                    while (rs.next()) {
                        oids.add(rs.getLong(1));
                    }
                    for (long oid : oids) {
                        type(c, oid, seen, statements);
                    }
                }
            }
        }
        return new ArrayList<>(statements);
    }

    /** Adds the statements for one type, after those of the types it depends on (depth first). */
    private static void type(Connection c, long oid, Set<Long> seen, Set<String> statements) throws SQLException {
        if (!seen.add(oid)) {
            return;
        }
        String nspname;
        String typname;
        char typtype;
        long element;
        long base;
        String baseName;
        boolean notNull;
        String checks;
        String defaultValue;
        String labels;
        long range;
        boolean standalone;
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT n.nspname, t.typname, t.typtype, CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE 0 END, t.typbasetype,
                       format_type(t.typbasetype, t.typtypmod), t.typnotnull,
                       (SELECT string_agg('CONSTRAINT ' || quote_ident(k.conname) || ' '
                                          || regexp_replace(pg_get_constraintdef(k.oid), ' NOT VALID$', ''), ' ' ORDER BY k.conname)
                        FROM pg_constraint k WHERE k.contypid = t.oid AND k.contype = 'c'),
                       pg_get_expr(t.typdefaultbin, 0),
                       (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
                       COALESCE((SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = t.oid), %s 0),
                       COALESCE((SELECT k.relkind = 'c' FROM pg_class k WHERE k.oid = t.typrelid), false),
                       n.nspname IN ('pg_catalog', 'information_schema')
                         OR EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
                FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = ?""".formatted(
                c.getMetaData().getDatabaseMajorVersion() >= 14 // multiranges: their range type
                        ? "(SELECT r.rngtypid FROM pg_range r WHERE r.rngmultitypid = t.oid)," : ""))) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next() || rs.getBoolean(13)) {
                    return; // built in, or an extension's
                }
                nspname = rs.getString(1);
                typname = rs.getString(2);
                typtype = rs.getString(3).charAt(0);
                element = rs.getLong(4);
                base = rs.getLong(5);
                baseName = rs.getString(6);
                notNull = rs.getBoolean(7);
                checks = rs.getString(8);
                defaultValue = rs.getString(9);
                labels = rs.getString(10);
                range = rs.getLong(11);
                standalone = rs.getBoolean(12);
            }
        }
        if (element != 0) {
            type(c, element, seen, statements); // an array: its element type is what gets created
            return;
        }
        String name = PostgresDialect.quote(nspname) + "." + PostgresDialect.quote(typname);
        String body;
        switch (typtype) {
            case 'e' -> body = "CREATE TYPE " + name + " AS ENUM (" + (labels == null ? "" : labels) + ")";
            case 'd' -> {
                type(c, base, seen, statements);
                body = "CREATE DOMAIN " + name + " AS " + baseName + (defaultValue == null ? "" : " DEFAULT " + defaultValue)
                        + (notNull ? " NOT NULL" : "") + (checks == null ? "" : " " + checks);
            }
            case 'r' -> {
                type(c, range, seen, statements);
                String subtype;
                try (PreparedStatement ps = c.prepareStatement("SELECT format_type(?, NULL)")) {
                    ps.setLong(1, range);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        subtype = rs.getString(1);
                    }
                }
                body = "CREATE TYPE " + name + " AS RANGE (SUBTYPE = " + subtype + ")";
            }
            case 'c' -> {
                if (!standalone) {
                    return; // a table's row type: it comes with that table
                }
                List<String> attributes = new ArrayList<>();
                List<Long> attributeTypes = new ArrayList<>();
                try (PreparedStatement ps = c.prepareStatement("""
                        SELECT quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                               || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                                       THEN ' COLLATE ' || (SELECT quote_ident(n.nspname) || '.' || quote_ident(k.collname) FROM pg_collation k
                                                            JOIN pg_namespace n ON n.oid = k.collnamespace WHERE k.oid = a.attcollation) ELSE '' END,
                               a.atttypid
                        FROM pg_type ct JOIN pg_attribute a ON a.attrelid = ct.typrelid JOIN pg_type t ON t.oid = a.atttypid
                        WHERE ct.oid = ? AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""")) {
                    ps.setLong(1, oid);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            attributes.add(rs.getString(1));
                            attributeTypes.add(rs.getLong(2));
                        }
                    }
                }
                for (long t : attributeTypes) {
                    type(c, t, seen, statements);
                }
                body = "CREATE TYPE " + name + " AS (" + String.join(", ", attributes) + ")";
            }
            case 'm' -> {
                type(c, range, seen, statements); // a multirange comes with its range type
                return;
            }
            default -> {
                return; // base and pseudo types of users are not recreated: CREATE TABLE names the missing type
            }
        }
        if (!"public".equals(nspname)) {
            statements.add("CREATE SCHEMA IF NOT EXISTS " + PostgresDialect.quote(nspname));
        }
        statements.add("DO $migrator$ BEGIN " + body + "; EXCEPTION WHEN duplicate_object THEN NULL; END $migrator$");
    }

    /**
     * A sequence a table uses: the one behind an identity column, one owned by its column (serial), or one a column's
     * default calls without owning it (CREATE SEQUENCE, then DEFAULT nextval(...): shared by several tables at times).
     * {@code sequence} is schema-qualified and quoted as needed; {@code schema} is the sequence's schema as it is named.
     */
    record SequenceUse(String sequence, String schema, TableId table, String column, boolean identity, boolean owned) {
    }

    static List<SequenceUse> sequenceUses(Connection c, List<TableDef> tables) throws SQLException {
        List<SequenceUse> out = new ArrayList<>();
        for (TableDef table : tables) {
            try (PreparedStatement ps = c.prepareStatement("""
                    SELECT a.attname, a.attidentity <> '', pg_get_serial_sequence(?, a.attname),
                           (SELECT ARRAY[sn.nspname, s.relname] FROM pg_attrdef ad
                            JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
                            JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
                            JOIN pg_namespace sn ON sn.oid = s.relnamespace
                            WHERE ad.adrelid = a.attrelid AND ad.adnum = a.attnum ORDER BY s.oid LIMIT 1),
                           (SELECT sn.nspname FROM pg_class s JOIN pg_namespace sn ON sn.oid = s.relnamespace
                            WHERE s.oid = pg_get_serial_sequence(?, a.attname)::regclass)
                    FROM pg_attribute a WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""")) {
                String name = PostgresDialect.quote(table.id());
                ps.setString(1, name);
                ps.setString(2, name);
                ps.setString(3, name);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String owned = rs.getString(3);
                        if (owned != null) {
                            out.add(new SequenceUse(owned, rs.getString(5), table.id(), rs.getString(1), rs.getBoolean(2), true));
                        } else if (rs.getArray(4) != null) {
                            String[] called = (String[]) rs.getArray(4).getArray();
                            out.add(new SequenceUse(PostgresDialect.quote(new TableId(called[0], called[1])), called[0], table.id(),
                                    rs.getString(1), false, false));
                        }
                    }
                }
            }
        }
        return out;
    }

    /**
     * Before the tables: CREATE SEQUENCE for the serial-style sequences (identity ones come with their tables), with the
     * source's type, bounds, increment, cache and cycle. After the tables: {@link #ownership}.
     */
    static List<String> sequences(Connection c, List<TableDef> tables) throws SQLException {
        List<String> out = new ArrayList<>();
        Set<String> made = new java.util.HashSet<>();
        for (SequenceUse use : sequenceUses(c, tables)) {
            if (use.identity() || !made.add(use.sequence())) {
                continue; // identity sequences come with their tables; a shared sequence is made once
            }
            if (!use.schema().equals(use.table().schema())) { // the tables' schemas are made before
                out.add("CREATE SCHEMA IF NOT EXISTS " + PostgresDialect.quote(use.schema()));
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT format_type(seqtypid, NULL), seqincrement, seqmin, seqmax, seqstart, "
                    + "seqcache, seqcycle FROM pg_sequence WHERE seqrelid = ?::regclass")) {
                ps.setString(1, use.sequence());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    out.add("CREATE SEQUENCE IF NOT EXISTS " + use.sequence() + " AS " + rs.getString(1) + " INCREMENT BY " + rs.getLong(2)
                            + " MINVALUE " + rs.getLong(3) + " MAXVALUE " + rs.getLong(4) + " START WITH " + rs.getLong(5) + " CACHE "
                            + rs.getLong(6) + (rs.getBoolean(7) ? " CYCLE" : " NO CYCLE"));
                }
            }
        }
        return out;
    }

    /**
     * After the tables: each serial-style sequence owned by its column, so dropping the column drops it, as on the source. A
     * sequence the source's column only calls stays unowned.
     */
    static List<String> ownership(Connection c, List<TableDef> tables) throws SQLException {
        List<String> out = new ArrayList<>();
        for (SequenceUse use : sequenceUses(c, tables)) {
            if (use.owned() && !use.identity()) {
                out.add("ALTER SEQUENCE " + use.sequence() + " OWNED BY " + PostgresDialect.quote(use.table()) + "."
                        + PostgresDialect.quote(use.column()));
            }
        }
        return out;
    }

    /**
     * Brings each target sequence to at least the source's value: the target's next value is then above every id the
     * source handed out. Never lowers a sequence (the target may have moved on after a cutover). Returns the sequences
     * it moved.
     */
    static List<String> syncSequences(Connection source, Connection target, List<TableDef> tables) throws SQLException {
        List<String> moved = new ArrayList<>();
        Set<String> seen = new java.util.HashSet<>();
        for (SequenceUse use : sequenceUses(source, tables)) {
            if (!seen.add(use.sequence())) {
                continue; // shared by several columns: once
            }
            long sourceValue;
            boolean called;
            boolean ascending;
            try (Statement st = source.createStatement(); ResultSet rs = st.executeQuery("SELECT s.last_value, s.is_called, q.seqincrement > 0 FROM "
                    + use.sequence() + " s, pg_sequence q WHERE q.seqrelid = '" + use.sequence().replace("'", "''") + "'::regclass")) {
                rs.next();
                sourceValue = rs.getLong(1);
                called = rs.getBoolean(2);
                ascending = rs.getBoolean(3);
            }
            if (!called) {
                continue; // never used on the source: nothing to stay above
            }
            String targetSequence = use.sequence(); // an unowned one has the source's name
            if (use.owned()) { // an identity column's sequence may be named otherwise on the target: ask its column
                try (PreparedStatement ps = target.prepareStatement("SELECT pg_get_serial_sequence(?, ?)")) {
                    ps.setString(1, PostgresDialect.quote(use.table()));
                    ps.setString(2, use.column());
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        targetSequence = rs.getString(1);
                    }
                }
            }
            try (Statement st = target.createStatement(); ResultSet rs = st.executeQuery("SELECT last_value, is_called FROM " + targetSequence)) {
                rs.next();
                if (rs.getBoolean(2) && (ascending ? rs.getLong(1) >= sourceValue : rs.getLong(1) <= sourceValue)) {
                    continue; // already there or beyond (a descending sequence goes down)
                }
            }
            try (PreparedStatement ps = target.prepareStatement("SELECT setval(?::regclass, ?, true)")) {
                ps.setString(1, targetSequence);
                ps.setLong(2, sourceValue);
                ps.execute();
            }
            moved.add(targetSequence + " -> " + sourceValue);
        }
        return moved;
    }

    /** Schemas the tables live in, to create on the target first. */
    static List<String> schemas(List<TableDef> tables) {
        Set<String> out = new LinkedHashSet<>();
        for (TableDef t : tables) {
            out.add("CREATE SCHEMA IF NOT EXISTS " + PostgresDialect.quote(t.id().schema()));
        }
        return new ArrayList<>(out);
    }

    /**
     * What is built after the copy, each statement idempotent: for every table its primary key (when the table was created
     * {@link #withoutPrimaryKey without it}: one index build instead of one insertion per copied row), unique, check and
     * exclusion constraints and secondary indexes, then every foreign key (a key needs the unique index it points at, on any table).
     */
    static List<String> deferred(Connection c, List<TableDef> tables) throws SQLException {
        List<String> out = new ArrayList<>();
        for (TableDef table : tables) {
            out.addAll(primaryKey(c, table));
            out.addAll(constraints(c, table, "u', 'c', 'x"));
            out.addAll(indexes(c, table));
            out.addAll(replicaIdentity(c, table));
        }
        for (TableDef table : tables) {
            out.addAll(constraints(c, table, "f"));
        }
        return out;
    }

    /**
     * The source's REPLICA IDENTITY when it is not the default: a table keyed by its identity index keeps it on the target
     * (whose changes a rollback streams back), a FULL one stays FULL.
     */
    private static List<String> replicaIdentity(Connection c, TableDef table) throws SQLException {
        String regclass = PostgresDialect.quote(table.id());
        try (PreparedStatement ps = c.prepareStatement("SELECT t.relreplident, (SELECT ic.relname FROM pg_index i JOIN pg_class ic "
                + "ON ic.oid = i.indexrelid WHERE i.indrelid = t.oid AND i.indisreplident) FROM pg_class t WHERE t.oid = ?::regclass")) {
            ps.setString(1, regclass);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return List.of();
                }
                return switch (rs.getString(1)) {
                    case "i" -> rs.getString(2) == null ? List.of()
                            : List.of("ALTER TABLE " + regclass + " REPLICA IDENTITY USING INDEX " + PostgresDialect.quote(rs.getString(2)));
                    case "f" -> List.of("ALTER TABLE " + regclass + " REPLICA IDENTITY FULL");
                    default -> List.of();
                };
            }
        }
    }

    /** The CREATE TABLE statement without its primary key, which {@link #deferred} adds after the copy. */
    static String withoutPrimaryKey(TableDef table) {
        if (table.key().isEmpty() || table.keyedByUniqueIndex()) {
            return table.createStatement();
        }
        String clause = ",\n  PRIMARY KEY (" + String.join(", ", table.key().stream().map(PostgresDialect::quote).toList()) + ")\n)";
        String create = table.createStatement();
        int at = create.lastIndexOf(clause);
        if (at < 0 || !(create.endsWith(clause) || create.startsWith(" PARTITION BY ", at + clause.length()))) {
            throw new IllegalStateException("unexpected CREATE TABLE statement for " + table.id());
        }
        return create.substring(0, at) + "\n)" + create.substring(at + clause.length());
    }

    /** The primary key under the source's constraint name, added when the table has none yet. */
    private static List<String> primaryKey(Connection c, TableDef table) throws SQLException {
        List<String> out = new ArrayList<>();
        String regclass = PostgresDialect.quote(table.id());
        try (PreparedStatement ps = c.prepareStatement("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = ?::regclass "
                + "AND contype = 'p'")) {
            ps.setString(1, regclass);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String literal = "'" + regclass.replace("'", "''") + "'";
                    out.add("DO $migrator$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = " + literal + "::regclass AND contype = 'p') "
                            + "THEN ALTER TABLE " + regclass + " ADD CONSTRAINT " + PostgresDialect.quote(rs.getString(1)) + " " + rs.getString(2)
                            + "; END IF; END $migrator$");
                }
            }
        }
        return out;
    }

    private static List<String> constraints(Connection c, TableDef table, String types) throws SQLException {
        List<String> out = new ArrayList<>();
        String regclass = PostgresDialect.quote(table.id());
        try (PreparedStatement ps = c.prepareStatement("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = ?::regclass "
                + "AND contype IN ('" + types + "') ORDER BY conname")) {
            ps.setString(1, regclass);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add("DO $migrator$ BEGIN ALTER TABLE " + regclass + " ADD CONSTRAINT " + PostgresDialect.quote(rs.getString(1)) + " "
                            + rs.getString(2) + "; EXCEPTION WHEN duplicate_object OR duplicate_table THEN NULL; END $migrator$");
                }
            }
        }
        return out;
    }

    private static List<String> indexes(Connection c, TableDef table) throws SQLException {
        List<String> out = new ArrayList<>();
        String regclass = PostgresDialect.quote(table.id());
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
                WHERE i.indrelid = ?::regclass AND NOT i.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                                  AND k.contype IN ('p', 'u', 'x'))
                ORDER BY i.indexrelid""")) {
            ps.setString(1, regclass);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1).replaceFirst("^CREATE (UNIQUE )?INDEX ", "CREATE $1INDEX IF NOT EXISTS "));
                }
            }
        }
        return out;
    }
}
