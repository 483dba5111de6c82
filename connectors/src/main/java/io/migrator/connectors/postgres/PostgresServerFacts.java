package io.migrator.connectors.postgres;

import io.migrator.core.plan.TableFilter;
import io.migrator.core.schema.TableId;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What preflight needs to know about one PostgreSQL server and the plan's database, read in one go so the assessments
 * are pure functions ({@link PostgresPreflight}).
 *
 * @param settings server settings by name (wal_level, max_replication_slots, max_wal_senders, max_slot_wal_keep_size...)
 * @param slotsUsed replication slots that exist
 * @param sendersUsed WAL senders connected now
 * @param replication the user may open replication connections (REPLICATION, superuser or rds_replication)
 * @param canCreateInDatabase CREATE on the database (publications, the bookkeeping schema)
 * @param tables the plan's tables: schema.table with their facts
 * @param extensions extensions installed in the database, by name, with version (plpgsql left out)
 * @param availableExtensions extensions the server could install (pg_available_extensions)
 * @param walBytesPerSecond average WAL rate since the statistics were reset; -1 unknown
 * @param inRecovery a standby (read-only)
 * @param readOnly default_transaction_read_only is on
 * @param columnTypes the plan's tables' columns in order, with their types as {@code format_type} prints them
 * @param usedExtensions extensions whose objects the plan's tables use: column types (arrays of them too), functions in
 *        defaults, constraints and index expressions, index operator classes
 * @param replicaRole the user may set session_replication_role (superuser, rds_superuser, or SET granted on PostgreSQL 15+)
 */
record PostgresServerFacts(int versionNum, String version, Map<String, String> settings, int slotsUsed, int sendersUsed,
                           boolean replication, boolean canCreateInDatabase, Map<TableId, TableFacts> tables,
                           Map<String, String> extensions, List<String> availableExtensions, double walBytesPerSecond,
                           boolean inRecovery, boolean readOnly,
                           Map<TableId, Map<String, String>> columnTypes, List<String> usedExtensions,
                           boolean replicaRole) {

    PostgresServerFacts(int versionNum, String version, Map<String, String> settings, int slotsUsed, int sendersUsed,
                        boolean replication, boolean canCreateInDatabase, Map<TableId, TableFacts> tables,
                        Map<String, String> extensions, List<String> availableExtensions, double walBytesPerSecond,
                        boolean inRecovery, boolean readOnly,
                        Map<TableId, Map<String, String>> columnTypes, List<String> usedExtensions) {
        this(versionNum, version, settings, slotsUsed, sendersUsed, replication, canCreateInDatabase, tables, extensions,
                availableExtensions, walBytesPerSecond, inRecovery, readOnly, columnTypes, usedExtensions, true);
    }

    PostgresServerFacts(int versionNum, String version, Map<String, String> settings, int slotsUsed, int sendersUsed,
                        boolean replication, boolean canCreateInDatabase, Map<TableId, TableFacts> tables,
                        Map<String, String> extensions, List<String> availableExtensions, double walBytesPerSecond,
                        boolean inRecovery, boolean readOnly) {
        this(versionNum, version, settings, slotsUsed, sendersUsed, replication, canCreateInDatabase, tables, extensions,
                availableExtensions, walBytesPerSecond, inRecovery, readOnly, Map.of(), List.copyOf(extensions.keySet()));
    }

    /**
     * @param primaryKey has a primary key
     * @param uniqueNotNull has a unique index whose columns are all NOT NULL (usable as the key)
     * @param replicaIdentity d (default: primary key), n (nothing), f (full), i (index)
     * @param owned the user owns it (needed for CREATE PUBLICATION ... FOR TABLE)
     * @param selectable the user may SELECT it
     * @param bytes total relation size
     * @param rowsEstimate planner estimate (reltuples)
     * @param hasRows at least one row (target emptiness)
     */
    /**
     * What preflight needs of one table. {@code identityHasKey}: with REPLICA IDENTITY USING INDEX, whether that index holds
     * every primary key column (else an UPDATE or DELETE arrives without the key, and the target could not find its row).
     */
    record TableFacts(boolean primaryKey, boolean uniqueNotNull, char replicaIdentity, boolean owned, boolean selectable, long bytes,
                      long rowsEstimate, boolean hasRows, boolean identityHasKey, List<String> primaryColumns, String identityIndex,
                      List<String> identityColumns) {
        TableFacts {
            primaryColumns = primaryColumns == null ? List.of() : List.copyOf(primaryColumns);
            identityColumns = identityColumns == null ? List.of() : List.copyOf(identityColumns);
        }

        TableFacts(boolean primaryKey, boolean uniqueNotNull, char replicaIdentity, boolean owned, boolean selectable, long bytes,
                   long rowsEstimate, boolean hasRows) {
            this(primaryKey, uniqueNotNull, replicaIdentity, owned, selectable, bytes, rowsEstimate, hasRows, true, List.of(), null, List.of());
        }

        TableFacts withRows(boolean any) {
            return new TableFacts(primaryKey, uniqueNotNull, replicaIdentity, owned, selectable, bytes, rowsEstimate, any, identityHasKey,
                    primaryColumns, identityIndex, identityColumns);
        }
    }

    private static List<String> names(java.sql.Array array) throws SQLException {
        return array == null ? List.of() : List.of((String[]) array.getArray());
    }

    static PostgresServerFacts read(Connection c, TableFilter filter) throws SQLException {
        int versionNum;
        String version;
        Map<String, String> settings = new LinkedHashMap<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT name, setting FROM pg_settings WHERE name IN "
                + "('server_version_num', 'server_version', 'wal_level', 'max_replication_slots', 'max_wal_senders', "
                + "'max_slot_wal_keep_size', 'default_transaction_read_only', 'rds.logical_replication', 'server_encoding')")) {
            while (rs.next()) {
                settings.put(rs.getString(1), rs.getString(2));
            }
        }
        versionNum = Integer.parseInt(settings.getOrDefault("server_version_num", "0"));
        version = settings.getOrDefault("server_version", "?");
        int slots = count(c, "SELECT count(*) FROM pg_replication_slots");
        int senders = count(c, "SELECT count(*) FROM pg_stat_replication");
        boolean replication;
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT r.rolreplication OR r.rolsuper OR EXISTS ("
                + "SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_replication' AND pg_has_role(current_user, g.oid, 'member')) "
                + "FROM pg_roles r WHERE r.rolname = current_user")) {
            replication = rs.next() && rs.getBoolean(1);
        }
        boolean create;
        boolean inRecovery;
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT has_database_privilege(current_database(), 'CREATE'), pg_is_in_recovery()")) {
            rs.next();
            create = rs.getBoolean(1);
            inRecovery = rs.getBoolean(2);
        }
        Map<TableId, TableFacts> tables = new LinkedHashMap<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("""
                SELECT n.nspname, c.relname,
                       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
                       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique AND i.indpred IS NULL
                               AND i.indexprs IS NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                               AND a.attnum = ANY (i.indkey) AND NOT a.attnotnull)),
                       c.relreplident, pg_has_role(current_user, c.relowner, 'USAGE'), has_table_privilege(c.oid, 'SELECT'),
                       pg_total_relation_size(c.oid), GREATEST(c.reltuples, 0)::bigint,
                       COALESCE((SELECT p.indkey::int2[] <@ r.indkey::int2[] FROM pg_index p JOIN pg_index r ON r.indrelid = p.indrelid
                                 AND r.indisreplident WHERE p.indrelid = c.oid AND p.indisprimary), true),
                       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index p CROSS JOIN LATERAL unnest(p.indkey) WITH ORDINALITY k(attnum, ord)
                        JOIN pg_attribute a ON a.attrelid = p.indrelid AND a.attnum = k.attnum WHERE p.indrelid = c.oid AND p.indisprimary),
                       (SELECT ic.relname FROM pg_index r JOIN pg_class ic ON ic.oid = r.indexrelid WHERE r.indrelid = c.oid AND r.indisreplident),
                       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index r CROSS JOIN LATERAL unnest(r.indkey) WITH ORDINALITY k(attnum, ord)
                        JOIN pg_attribute a ON a.attrelid = r.indrelid AND a.attnum = k.attnum WHERE r.indrelid = c.oid AND r.indisreplident)
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'migrator') AND n.nspname NOT LIKE 'pg_toast%'
                  AND n.nspname NOT LIKE 'pg_temp%'
                ORDER BY 1, 2""")) {
            while (rs.next()) {
                String schema = rs.getString(1);
                String table = rs.getString(2);
                if (filter.includes(schema, table)) {
                    tables.put(new TableId(schema, table), new TableFacts(rs.getBoolean(3), rs.getBoolean(4), rs.getString(5).charAt(0),
                            rs.getBoolean(6), rs.getBoolean(7), rs.getLong(8), rs.getLong(9), false, rs.getBoolean(10), names(rs.getArray(11)),
                            rs.getString(12), names(rs.getArray(13))));
                }
            }
        }
        for (Map.Entry<TableId, TableFacts> e : tables.entrySet()) {
            TableFacts t = e.getValue();
            if (t.selectable()) {
                boolean any;
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT EXISTS (SELECT 1 FROM "
                        + PostgresDialect.quote(e.getKey()) + ")")) {
                    rs.next();
                    any = rs.getBoolean(1);
                }
                e.setValue(t.withRows(any));
            }
        }
        Map<String, String> extensions = new LinkedHashMap<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT extname, extversion FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")) {
            while (rs.next()) {
                extensions.put(rs.getString(1), rs.getString(2));
            }
        }
        List<String> available = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT name FROM pg_available_extensions ORDER BY 1")) {
            while (rs.next()) {
                available.add(rs.getString(1));
            }
        }
        double walRate = -1;
        if (versionNum >= 140000) {
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                    "SELECT wal_bytes::float8 / GREATEST(EXTRACT(EPOCH FROM now() - stats_reset), 1) FROM pg_stat_wal")) {
                if (rs.next()) {
                    walRate = rs.getDouble(1);
                }
            } catch (SQLException e) {
                walRate = -1; // no access to pg_stat_wal: the WAL estimate is skipped
            }
        }
        boolean readOnly = "on".equalsIgnoreCase(settings.get("default_transaction_read_only"));
        Map<TableId, Map<String, String>> columnTypes = new LinkedHashMap<>();
        // format_type qualifies a type only when the session's search_path does not show it: with pg_catalog alone, both
        // servers print user types schema-qualified, whoever connects
        try (Statement st = c.createStatement()) {
            st.execute("SET search_path TO pg_catalog");
        }
        // from the catalog by name, not through regclass: that needs USAGE on the schema, which a user lacking it must still
        // get a finding for, not an error
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("""
                SELECT n.nspname, k.relname, a.attname, format_type(a.atttypid, a.atttypmod)
                FROM pg_attribute a JOIN pg_class k ON k.oid = a.attrelid JOIN pg_namespace n ON n.oid = k.relnamespace
                WHERE k.relkind IN ('r', 'p') AND NOT k.relispartition AND a.attnum > 0 AND NOT a.attisdropped
                  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'migrator') AND n.nspname NOT LIKE 'pg_toast%'
                ORDER BY 1, 2, a.attnum""")) {
            while (rs.next()) {
                TableId table = new TableId(rs.getString(1), rs.getString(2));
                if (tables.containsKey(table)) {
                    columnTypes.computeIfAbsent(table, t -> new LinkedHashMap<>()).put(rs.getString(3), rs.getString(4));
                }
            }
        }
        try (Statement st = c.createStatement()) {
            st.execute("RESET search_path");
        }
        List<String> usedExtensions = new ArrayList<>();
        try (java.sql.PreparedStatement ps = c.prepareStatement("""
                WITH t AS (SELECT k.oid FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace
                           WHERE (n.nspname, k.relname) IN (SELECT * FROM unnest(?::text[], ?::text[]))),
                     o AS (SELECT 'pg_class'::regclass AS classid, oid AS objid FROM t
                           UNION ALL SELECT 'pg_class'::regclass, i.indexrelid FROM pg_index i WHERE i.indrelid IN (SELECT oid FROM t)
                           UNION ALL SELECT 'pg_attrdef'::regclass, d.oid FROM pg_attrdef d WHERE d.adrelid IN (SELECT oid FROM t)
                           UNION ALL SELECT 'pg_constraint'::regclass, k.oid FROM pg_constraint k WHERE k.conrelid IN (SELECT oid FROM t)),
                     r AS (SELECT d.refclassid, d.refobjid FROM o JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid
                           UNION SELECT 'pg_type'::regclass, e.typelem FROM o JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid
                           AND d.refclassid = 'pg_type'::regclass JOIN pg_type e ON e.oid = d.refobjid AND e.typelem <> 0)
                SELECT DISTINCT x.extname FROM r JOIN pg_depend m ON m.classid = r.refclassid AND m.objid = r.refobjid AND m.deptype = 'e'
                JOIN pg_extension x ON x.oid = m.refobjid ORDER BY 1""")) {
            ps.setArray(1, c.createArrayOf("text", tables.keySet().stream().map(TableId::schema).toArray()));
            ps.setArray(2, c.createArrayOf("text", tables.keySet().stream().map(TableId::name).toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    usedExtensions.add(rs.getString(1));
                }
            }
        }
        boolean replicaRole;
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT r.rolsuper OR EXISTS (SELECT 1 FROM pg_roles g "
                + "WHERE g.rolname = 'rds_superuser' AND pg_has_role(current_user, g.oid, 'member'))"
                + (versionNum >= 150000 ? " OR has_parameter_privilege('session_replication_role', 'SET')" : "")
                + " FROM pg_roles r WHERE r.rolname = current_user")) {
            replicaRole = rs.next() && rs.getBoolean(1);
        }
        return new PostgresServerFacts(versionNum, version, settings, slots, senders, replication, create, tables, extensions, available,
                walRate, inRecovery, readOnly, columnTypes, usedExtensions, replicaRole);
    }

    private static int count(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getInt(1);
        }
    }

    int setting(String name, int fallback) {
        try {
            return Integer.parseInt(settings.getOrDefault(name, Integer.toString(fallback)));
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    long dataBytes() {
        return tables.values().stream().mapToLong(TableFacts::bytes).sum();
    }

}
