package io.migrator.connectors.mysql;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.Struct;

/**
 * Turns the values of Debezium's MySQL/MariaDB change events back into what a MySQL-compatible target
 * takes without loss: temporal values as the server's text (the target session runs in UTC), BIT as
 * big-endian bytes, spatial values as WKB, decimals exact.
 */
public final class DebeziumValues {
    private static final DateTimeFormatter DATETIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS");

    private DebeziumValues() {
    }

    static Object convert(Schema schema, Object value) {
        if (value == null) {
            return null;
        }
        String name = schema.name();
        if (name != null) {
            switch (name) {
                case "io.debezium.time.Date":
                    return LocalDate.ofEpochDay(((Number) value).longValue()).toString();
                case "io.debezium.time.MicroTimestamp": {
                    long micros = ((Number) value).longValue();
                    return LocalDateTime.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), (int) Math.floorMod(micros, 1_000_000L) * 1000,
                            ZoneOffset.UTC).format(DATETIME);
                }
                case "io.debezium.time.Timestamp": {
                    long millis = ((Number) value).longValue();
                    return LocalDateTime.ofEpochSecond(Math.floorDiv(millis, 1000L), (int) Math.floorMod(millis, 1000L) * 1_000_000,
                            ZoneOffset.UTC).format(DATETIME);
                }
                case "io.debezium.time.ZonedTimestamp":
                    return OffsetDateTime.parse((String) value).withOffsetSameInstant(ZoneOffset.UTC).toLocalDateTime().format(DATETIME);
                case "io.debezium.time.MicroTime":
                    return time(((Number) value).longValue());
                case "io.debezium.time.Time":
                    return time(((Number) value).longValue() * 1000L);
                case "io.debezium.data.Bits":
                    return reverse(bytes(value));
                case "io.debezium.data.geometry.Geometry":
                case "io.debezium.data.geometry.Point":
                    return bytes(((Struct) value).get("wkb"));
                case "org.apache.kafka.connect.data.Decimal":
                    return (BigDecimal) value;
                default:
                    break;
            }
        }
        if (value instanceof ByteBuffer || value instanceof byte[]) {
            return bytes(value);
        }
        return value;
    }

    /** MySQL TIME runs from -838:59:59.999999 to 838:59:59.999999. */
    private static String time(long micros) {
        String sign = micros < 0 ? "-" : "";
        long m = Math.abs(micros);
        long hours = m / 3_600_000_000L;
        long minutes = m / 60_000_000L % 60;
        long seconds = m / 1_000_000L % 60;
        long fraction = m % 1_000_000L;
        return String.format("%s%02d:%02d:%02d.%06d", sign, hours, minutes, seconds, fraction);
    }

    private static byte[] bytes(Object value) {
        return io.migrator.connectors.debezium.ConnectValues.bytes(value);
    }

    private static byte[] reverse(byte[] littleEndian) {
        byte[] out = new byte[littleEndian.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = littleEndian[out.length - 1 - i];
        }
        return out;
    }
}
