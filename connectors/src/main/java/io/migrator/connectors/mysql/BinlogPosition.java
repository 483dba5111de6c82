package io.migrator.connectors.mysql;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.migrator.core.change.SourcePosition;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A binlog position in the shape of the Debezium MySQL/MariaDB source offset (file, pos, gtids and,
 * inside a transaction, how many events and rows to skip), so it can seed the connector directly.
 * Its text form, stored in the target checkpoint, is that map as JSON.
 */
record BinlogPosition(Map<String, Object> offset) {
    private static final ObjectMapper JSON = new ObjectMapper();

    BinlogPosition {
        offset = java.util.Collections.unmodifiableMap(new TreeMap<>(offset));
    }

    static BinlogPosition of(String file, long pos, String gtids) {
        Map<String, Object> offset = new LinkedHashMap<>();
        offset.put("file", file);
        offset.put("pos", pos);
        if (gtids != null && !gtids.isBlank()) {
            offset.put("gtids", gtids);
        }
        return new BinlogPosition(offset);
    }

    /**
     * The server's binlog position now (file, position, GTIDs), or empty when it writes no binlog. GTIDs are read first: a
     * transaction committing between the two reads is then replayed (harmless with full images) instead of counted as
     * done and skipped.
     */
    static java.util.Optional<BinlogPosition> read(java.sql.Statement st) throws java.sql.SQLException {
        String gtids = "";
        try (java.sql.ResultSet rs = st.executeQuery("SELECT @@gtid_binlog_pos")) {
            if (rs.next() && rs.getString(1) != null) {
                gtids = rs.getString(1);
            }
        } catch (java.sql.SQLException e) {
            gtids = ""; // MySQL: no such variable; its GTIDs come with the binlog status below
        }
        try (java.sql.ResultSet rs = MySqlSource.binlogStatus(st)) {
            if (!rs.next()) {
                return java.util.Optional.empty();
            }
            if (gtids.isEmpty() && rs.getMetaData().getColumnCount() >= 5 && rs.getString(5) != null) {
                gtids = rs.getString(5).replace("\n", "");
            }
            return java.util.Optional.of(of(rs.getString(1), rs.getLong(2), gtids));
        }
    }

    static BinlogPosition parse(SourcePosition position) {
        try {
            return new BinlogPosition(JSON.readValue(position.text(), new TypeReference<Map<String, Object>>() { }));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not a binlog position: " + position.text(), e);
        }
    }

    SourcePosition toSourcePosition() {
        try {
            return new SourcePosition(JSON.writeValueAsString(offset));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    String file() {
        return String.valueOf(offset.get("file"));
    }

    long pos() {
        return ((Number) offset.get("pos")).longValue();
    }
}
