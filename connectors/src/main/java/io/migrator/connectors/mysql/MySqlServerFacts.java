package io.migrator.connectors.mysql;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What preflight needs to know about one MySQL/MariaDB server, read in one go so the assessments
 * themselves are pure functions ({@link MySqlPreflight}).
 */
record MySqlServerFacts(boolean mariadb, String version, Map<String, String> variables, List<String> grants,
                        Map<String, Long> tableRows, Map<String, List<MySqlKeys.Index>> uniqueIndexes, Map<String, List<String>> unsupportedColumns,
                        long dataBytes, boolean databaseExists, boolean migrationStateExists,
                        Map<String, Map<String, String>> columnTypes, Map<String, List<String>> triggers) {
    MySqlServerFacts(boolean mariadb, String version, Map<String, String> variables, List<String> grants, Map<String, Long> tableRows,
                     Map<String, List<MySqlKeys.Index>> uniqueIndexes, Map<String, List<String>> unsupportedColumns, long dataBytes,
                     boolean databaseExists, boolean migrationStateExists, Map<String, Map<String, String>> columnTypes) {
        this(mariadb, version, variables, grants, tableRows, uniqueIndexes, unsupportedColumns, dataBytes, databaseExists,
                migrationStateExists, columnTypes, Map.of());
    }

    static final List<String> VARIABLES = List.of("log_bin", "binlog_format", "binlog_row_image", "server_id", "gtid_mode",
            "gtid_strict_mode", "binlog_expire_logs_seconds", "expire_logs_days", "read_only", "super_read_only", "max_allowed_packet",
            "gtid_binlog_pos", "sql_mode", "lower_case_table_names");

    /**
     * MySQL 8 lists a user's roles but not their privileges: SHOW GRANTS ... USING the session's active roles adds them.
     * MySQL 5.7 and Aurora MySQL 2 have no roles (no CURRENT_ROLE()): their plain SHOW GRANTS is the whole answer.
     */
    private static List<String> withActiveRoles(Connection c, List<String> grants) throws SQLException {
        String roles;
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT CURRENT_ROLE()")) {
            roles = rs.next() ? rs.getString(1) : null;
        } catch (SQLException noRoles) {
            return grants; // before MySQL 8: no roles to expand
        }
        if (roles == null || roles.isBlank() || "NONE".equalsIgnoreCase(roles.strip())) {
            return grants;
        }
        List<String> expanded = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SHOW GRANTS FOR CURRENT_USER() USING " + roles)) {
            while (rs.next()) {
                expanded.add(rs.getString(1));
            }
        }
        return expanded;
    }

    static MySqlServerFacts read(Connection c, String database, String migration) throws SQLException {
        String version;
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT VERSION()")) {
            rs.next();
            version = rs.getString(1);
        }
        boolean mariadb = version.toLowerCase(java.util.Locale.ROOT).contains("mariadb");
        Map<String, String> variables = new LinkedHashMap<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SHOW GLOBAL VARIABLES WHERE Variable_name IN ("
                + String.join(", ", VARIABLES.stream().map(v -> "'" + v + "'").toList()) + ")")) {
            while (rs.next()) {
                variables.put(rs.getString(1).toLowerCase(java.util.Locale.ROOT), rs.getString(2));
            }
        }
        List<String> grants = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SHOW GRANTS")) {
            while (rs.next()) {
                grants.add(rs.getString(1));
            }
        }
        if (!mariadb) {
            // MySQL lists a user's roles but not their privileges; USING the session's roles (its default ones) adds them
            // (MariaDB's SHOW GRANTS already lists the current role's grants, nested roles included)
            grants = withActiveRoles(c, grants);
        }
        Map<String, Long> rows = new LinkedHashMap<>();
        long bytes = 0;
        boolean exists = false;
        try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?")) {
            ps.setString(1, database);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                exists = rs.getInt(1) > 0;
            }
        }
        Map<String, List<MySqlKeys.Index>> uniques = Map.of();
        Map<String, List<String>> unsupported = new LinkedHashMap<>();
        if (exists) {
            try (PreparedStatement ps = c.prepareStatement("SELECT TABLE_NAME, COALESCE(TABLE_ROWS, 0), COALESCE(DATA_LENGTH, 0) + "
                    + "COALESCE(INDEX_LENGTH, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'")) {
                ps.setString(1, database);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        rows.put(rs.getString(1), rs.getLong(2));
                        bytes += rs.getLong(3);
                    }
                }
            }
            uniques = MySqlKeys.uniqueIndexes(c, database);
            try (PreparedStatement ps = c.prepareStatement("SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
                    + "WHERE TABLE_SCHEMA = ? AND DATA_TYPE IN ('inet6', 'inet4', 'uuid') ORDER BY TABLE_NAME, ORDINAL_POSITION")) {
                ps.setString(1, database);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        unsupported.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(rs.getString(2) + " " + rs.getString(3));
                    }
                }
            }
        }
        boolean state = false;
        try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'migrator' "
                + "AND TABLE_NAME = 'state'")) {
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getInt(1) > 0) {
                    try (PreparedStatement q = c.prepareStatement("SELECT COUNT(*) FROM migrator.state WHERE migration = ?")) {
                        q.setString(1, migration);
                        try (ResultSet r = q.executeQuery()) {
                            r.next();
                            state = r.getInt(1) > 0;
                        }
                    }
                }
            }
        }
        Map<String, Map<String, String>> columnTypes = new LinkedHashMap<>();
        if (exists) {
            try (PreparedStatement ps = c.prepareStatement("SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                    + "WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION")) {
                ps.setString(1, database);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        columnTypes.computeIfAbsent(rs.getString(1), k -> new LinkedHashMap<>()).put(rs.getString(2), rs.getString(3));
                    }
                }
            }
        }
        Map<String, List<String>> triggers = new LinkedHashMap<>();
        if (exists) {
            try (PreparedStatement ps = c.prepareStatement("SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME FROM information_schema.TRIGGERS "
                    + "WHERE EVENT_OBJECT_SCHEMA = ? ORDER BY 1, 2")) {
                ps.setString(1, database);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        triggers.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(rs.getString(2));
                    }
                }
            }
        }
        return new MySqlServerFacts(mariadb, version, variables, grants, rows, uniques, unsupported, bytes, exists, state, columnTypes,
                triggers);
    }

    String variable(String name) {
        return variables.getOrDefault(name, "");
    }
}
