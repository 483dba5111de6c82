package io.migrator.connectors.mysql;

import io.migrator.core.plan.TableFilter;
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
 * The largest row of each of the plan's source tables that could come near a packet limit: only tables whose declared
 * row size could reach it are read (one {@code MAX} over their rows), and tables too large to read at plan check are named
 * instead. A row must fit the target's {@code max_allowed_packet}, whatever the source's setting is.
 */
record MySqlRowSizes(Map<String, Long> largest, List<String> unmeasured) {
    /** Tables with more rows than this are not read at plan check. */
    static final long MEASURED_ROWS = 2_000_000;

    static MySqlRowSizes measure(Connection c, String database, TableFilter filter, long limit) throws SQLException {
        Map<String, Long> declared = new LinkedHashMap<>();
        Map<String, List<String>> columns = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT c.TABLE_NAME, c.COLUMN_NAME, COALESCE(c.CHARACTER_OCTET_LENGTH, 8) "
                + "FROM information_schema.COLUMNS c JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA "
                + "AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE' WHERE c.TABLE_SCHEMA = ? ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION")) {
            ps.setString(1, database);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String table = rs.getString(1);
                    if (filter.includes(database, table)) {
                        declared.merge(table, rs.getLong(3), Long::sum);
                        columns.computeIfAbsent(table, t -> new ArrayList<>()).add(rs.getString(2));
                    }
                }
            }
        }
        Map<String, Long> rows = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT TABLE_NAME, COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES "
                + "WHERE TABLE_SCHEMA = ?")) {
            ps.setString(1, database);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.put(rs.getString(1), rs.getLong(2));
                }
            }
        }
        Map<String, Long> largest = new LinkedHashMap<>();
        List<String> unmeasured = new ArrayList<>();
        for (var table : declared.entrySet()) {
            if (table.getValue() < limit / 2) {
                continue; // its rows cannot come near the limit
            }
            if (rows.getOrDefault(table.getKey(), 0L) > MEASURED_ROWS) {
                unmeasured.add(table.getKey());
                continue;
            }
            StringBuilder sum = new StringBuilder();
            for (String column : columns.get(table.getKey())) {
                sum.append(sum.isEmpty() ? "" : " + ").append("COALESCE(OCTET_LENGTH(").append(MySqlDialect.quote(column)).append("), 0)");
            }
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT MAX(" + sum + ") FROM "
                    + MySqlDialect.quote(database) + "." + MySqlDialect.quote(table.getKey()))) {
                largest.put(table.getKey(), rs.next() ? rs.getLong(1) : 0);
            }
        }
        return new MySqlRowSizes(largest, unmeasured);
    }
}
