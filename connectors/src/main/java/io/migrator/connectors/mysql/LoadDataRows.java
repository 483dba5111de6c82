package io.migrator.connectors.mysql;

import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableId;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Rows in the text format of {@code LOAD DATA}'s defaults (fields split by tab, rows by newline, backslash escapes,
 * {@code \N} for NULL), ready to stream to the target as a {@code LOAD DATA LOCAL INFILE}. Text goes as UTF-8 under
 * {@code CHARACTER SET utf8mb4}, so the server converts it to each column's charset exactly as it does for an INSERT
 * on a utf8mb4 connection; binary values go as hex through a user variable and {@code UNHEX}, so no byte is ever
 * reinterpreted; spatial values go as hex WKB through {@code ST_GeomFromWKB}, as the INSERT path binds them.
 */
final class LoadDataRows {
    private static final byte[] HEX = "0123456789ABCDEF".getBytes(StandardCharsets.US_ASCII);

    private final boolean[] hex;
    private byte[] buffer = new byte[1 << 16];
    private int length;
    private int rows;

    LoadDataRows(List<ColumnDef> columns) {
        hex = new boolean[columns.size()];
        for (int i = 0; i < hex.length; i++) {
            hex[i] = MySqlDialect.kind(columns.get(i)) == MySqlDialect.Kind.BYTES || MySqlDialect.kind(columns.get(i)) == MySqlDialect.Kind.GEOMETRY;
        }
    }

    /** The statement that loads these rows into {@code target}, REPLACE semantics as the chunk writer's INSERT path. */
    static String statement(TableId target, List<ColumnDef> columns) {
        List<String> fields = new ArrayList<>();
        List<String> assignments = new ArrayList<>();
        for (int i = 0; i < columns.size(); i++) {
            ColumnDef column = columns.get(i);
            switch (MySqlDialect.kind(column)) {
                case BYTES -> {
                    fields.add("@v" + i);
                    assignments.add(MySqlDialect.quote(column.name()) + " = UNHEX(@v" + i + ")");
                }
                case GEOMETRY -> {
                    fields.add("@v" + i);
                    assignments.add(MySqlDialect.quote(column.name()) + " = ST_GeomFromWKB(UNHEX(@v" + i + "))");
                }
                default -> fields.add(MySqlDialect.quote(column.name()));
            }
        }
        return "LOAD DATA LOCAL INFILE 'migrator-chunk' REPLACE INTO TABLE " + MySqlDialect.quote(target)
                + " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ("
                + String.join(", ", fields) + ")" + (assignments.isEmpty() ? "" : " SET " + String.join(", ", assignments));
    }

    void add(Object[] row) {
        for (int i = 0; i < row.length; i++) {
            if (i > 0) {
                put((byte) '\t');
            }
            Object value = row[i];
            if (value == null) {
                put((byte) '\\');
                put((byte) 'N');
            } else if (hex[i]) {
                hex(value instanceof byte[] b ? b : value.toString().getBytes(StandardCharsets.UTF_8));
            } else if (value instanceof byte[] b) {
                escaped(b, 0);
            } else {
                text(value.toString());
            }
        }
        put((byte) '\n');
        rows++;
    }

    int rows() {
        return rows;
    }

    int bytes() {
        return length;
    }

    InputStream stream() {
        return new ByteArrayInputStream(buffer, 0, length);
    }

    void clear() {
        length = 0;
        rows = 0;
    }

    private void text(String s) {
        int n = s.length();
        ensure(n + 16);
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x80) {
                // the rest as UTF-8 bytes: no byte of a multi-byte sequence is ASCII, so escaping byte by byte is exact
                escaped(s.substring(i).getBytes(StandardCharsets.UTF_8), 0);
                return;
            }
            escape((byte) c);
        }
    }

    private void escaped(byte[] bytes, int from) {
        ensure(bytes.length - from + 16);
        for (int i = from; i < bytes.length; i++) {
            escape(bytes[i]);
        }
    }

    private void escape(byte b) {
        byte escaped = switch (b) {
            case '\\' -> (byte) '\\';
            case '\t' -> (byte) 't';
            case '\n' -> (byte) 'n';
            case '\r' -> (byte) 'r';
            case 0 -> (byte) '0';
            default -> 0;
        };
        if (escaped == 0) {
            put(b);
        } else {
            put((byte) '\\');
            put(escaped);
        }
    }

    private void hex(byte[] bytes) {
        ensure(2 * bytes.length);
        for (byte b : bytes) {
            buffer[length++] = HEX[(b >> 4) & 0xF];
            buffer[length++] = HEX[b & 0xF];
        }
    }

    private void put(byte b) {
        if (length == buffer.length) {
            ensure(1);
        }
        buffer[length++] = b;
    }

    private void ensure(int more) {
        if (length + more > buffer.length) {
            buffer = java.util.Arrays.copyOf(buffer, Math.max(buffer.length * 2, length + more));
        }
    }
}
