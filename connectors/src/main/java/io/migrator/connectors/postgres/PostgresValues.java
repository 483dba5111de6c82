package io.migrator.connectors.postgres;

import io.migrator.core.change.RowChange;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.Struct;

/**
 * Turns the values of Debezium's PostgreSQL change events back into PostgreSQL input text (or bytes, for bytea), so
 * the target parses them with the column's own type ({@code ?::type}): enums, domains, ranges, money, intervals and
 * arrays of them all arrive as the server would print them. Debezium's placeholder for an unchanged TOAST value becomes
 * {@link RowChange#UNCHANGED}, never a value.
 */
final class PostgresValues {
    /** Set as Debezium's {@code unavailable.value.placeholder}; no real value is this string. */
    static final String PLACEHOLDER = "__migrator_unchanged_toast_d41d8cd98f00__";
    private static final byte[] PLACEHOLDER_BYTES = PLACEHOLDER.getBytes(StandardCharsets.UTF_8);
    private static final List<Integer> INT_PLACEHOLDER = bytesAs(b -> (int) b);
    private static final List<Long> LONG_PLACEHOLDER = bytesAs(b -> (long) b);
    private static final String UUID_PLACEHOLDER = java.util.UUID.nameUUIDFromBytes(PLACEHOLDER_BYTES).toString();

    private PostgresValues() {
    }

    private static <T> List<T> bytesAs(java.util.function.Function<Byte, T> f) {
        java.util.ArrayList<T> out = new java.util.ArrayList<>();
        for (byte b : PLACEHOLDER_BYTES) {
            out.add(f.apply(b));
        }
        return List.copyOf(out);
    }

    /** Whether Debezium put its unchanged-TOAST placeholder here (each column type has its own form of it). */
    static boolean unchanged(Object value) {
        if (value instanceof String s) {
            return s.length() == PLACEHOLDER.length() && s.equals(PLACEHOLDER);
        }
        if (value instanceof byte[] || value instanceof ByteBuffer) {
            return Arrays.equals(bytes(value), PLACEHOLDER_BYTES);
        }
        if (value instanceof List<?> list) {
            if (list.size() == 1) {
                Object only = list.get(0);
                return PLACEHOLDER.equals(only) || UUID_PLACEHOLDER.equals(only)
                        || (only instanceof byte[] || only instanceof ByteBuffer) && Arrays.equals(bytes(only), PLACEHOLDER_BYTES);
            }
            return list.size() == PLACEHOLDER_BYTES.length && (list.equals(INT_PLACEHOLDER) || list.equals(LONG_PLACEHOLDER));
        }
        if (value instanceof Map<?, ?> map) {
            return map.size() == 1 && PLACEHOLDER.equals(map.get(PLACEHOLDER));
        }
        return false;
    }

    /** The value as PostgreSQL input: a String, byte[] for bytea, null for NULL, or {@link RowChange#UNCHANGED}. */
    static Object input(Schema schema, Object value) {
        return input(schema, value, true);
    }

    /**
     * {@code byteaElements}: whether bytes inside an array are bytea values (the column is {@code bytea[]}) rather than the
     * text of a type Debezium does not know (an array of composites), which it passes on as bytes too.
     */
    static Object input(Schema schema, Object value, boolean byteaElements) {
        if (value == null) {
            return null;
        }
        if (unchanged(value)) {
            return RowChange.UNCHANGED;
        }
        if (value instanceof ByteBuffer || value instanceof byte[]) {
            if (schema.name() == null || !schema.name().equals("io.debezium.data.Bits")) {
                return bytes(value);
            }
        }
        return text(schema, value, byteaElements);
    }

    private static String text(Schema schema, Object value, boolean byteaElements) {
        String name = schema.name();
        if (name != null) {
            switch (name) {
                case "io.debezium.time.Date":
                    return date(LocalDate.ofEpochDay(((Number) value).longValue()));
                case "io.debezium.time.MicroTimestamp":
                    return timestamp(((Number) value).longValue());
                case "io.debezium.time.Timestamp":
                    return timestamp(((Number) value).longValue() * 1000L);
                case "io.debezium.time.NanoTimestamp":
                    return timestamp(Math.floorDiv(((Number) value).longValue(), 1000L));
                case "io.debezium.time.MicroTime":
                    return time(((Number) value).longValue());
                case "io.debezium.time.Time":
                    return time(((Number) value).longValue() * 1000L);
                case "io.debezium.time.NanoTime":
                    return time(((Number) value).longValue() / 1000L);
                case "io.debezium.data.Bits":
                    return bits(bytes(value), schema.parameters() == null ? null : schema.parameters().get("length"));
                case "io.debezium.data.VariableScaleDecimal": {
                    Struct s = (Struct) value;
                    return new BigDecimal(new BigInteger(bytes(s.get("value"))), s.getInt32("scale")).toPlainString();
                }
                case "org.apache.kafka.connect.data.Decimal":
                    return ((BigDecimal) value).toPlainString();
                case "io.debezium.data.geometry.Point": { // PostgreSQL's point: x and y as float8, shortest exact digits
                    Struct s = (Struct) value;
                    return "(" + float8(s.getFloat64("x")) + "," + float8(s.getFloat64("y")) + ")";
                }
                default:
                    break;
            }
        }
        if (value instanceof List<?> list) {
            return array(schema.valueSchema(), list, byteaElements);
        }
        if (value instanceof Map<?, ?> map) {
            return hstore(map);
        }
        if (value instanceof Double d) {
            return float8(d);
        }
        if (value instanceof Float f) {
            return f.isNaN() ? "NaN" : f.isInfinite() ? (f > 0 ? "Infinity" : "-Infinity") : f.toString();
        }
        if (value instanceof Struct s) {
            throw new IllegalArgumentException("values of type " + s.schema().name() + " are not replayed yet");
        }
        return value.toString();
    }

    private static String float8(double d) {
        return Double.isNaN(d) ? "NaN" : Double.isInfinite(d) ? (d > 0 ? "Infinity" : "-Infinity") : Double.toString(d);
    }

    /** PostgreSQL dates run back to 4713 BC: year 0 is 1 BC. */
    private static String date(LocalDate d) {
        return d.getYear() > 0 ? d.toString() : d.withYear(1 - d.getYear()).toString() + " BC";
    }

    private static String timestamp(long micros) {
        LocalDateTime t = LocalDateTime.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), (int) Math.floorMod(micros, 1_000_000L) * 1000, ZoneOffset.UTC);
        return t.getYear() > 0 ? t.toString() : t.withYear(1 - t.getYear()).toString() + " BC";
    }

    private static String time(long micros) {
        if (micros >= 86_400_000_000L) {
            return "24:00:00"; // PostgreSQL's time allows the end of the day
        }
        return LocalTime.ofNanoOfDay(micros * 1000L).toString();
    }

    /** Debezium's Bits are little-endian bytes; PostgreSQL's bit input is the digits, most significant first. */
    private static String bits(byte[] littleEndian, String length) {
        // bit(n) has its length (zero bits the bytes leave out are padded back); an unbounded bit varying says 2^31-1, beyond
        // PostgreSQL's longest bit string (83,886,080): then the bytes' own bits (a bit varying value is read from the source)
        long declared = length == null ? -1 : Long.parseLong(length);
        int n = declared < 0 || declared > 83_886_080 ? littleEndian.length * 8 : (int) declared;
        StringBuilder s = new StringBuilder(n);
        for (int i = n - 1; i >= 0; i--) {
            int b = i / 8;
            s.append(b < littleEndian.length && (littleEndian[b] >> (i % 8) & 1) == 1 ? '1' : '0');
        }
        return s.toString();
    }

    private static String array(Schema element, List<?> values, boolean byteaElements) {
        StringBuilder s = new StringBuilder("{");
        for (int i = 0; i < values.size(); i++) {
            if (i > 0) {
                s.append(',');
            }
            Object v = values.get(i);
            if (v == null) {
                s.append("NULL");
                continue;
            }
            Object in = element == null ? v.toString() : input(element, v, byteaElements);
            String text = in instanceof byte[] b ? (byteaElements ? "\\x" + HexFormat.of().formatHex(b)
                    : new String(b, java.nio.charset.StandardCharsets.UTF_8)) : String.valueOf(in);
            s.append('"').append(text.replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
        }
        return s.append('}').toString();
    }

    private static String hstore(Map<?, ?> map) {
        StringBuilder s = new StringBuilder();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (s.length() > 0) {
                s.append(", ");
            }
            s.append(quoteHstore(String.valueOf(e.getKey()))).append("=>").append(e.getValue() == null ? "NULL" : quoteHstore(String.valueOf(e.getValue())));
        }
        return s.toString();
    }

    private static String quoteHstore(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    static byte[] bytes(Object value) {
        return io.migrator.connectors.debezium.ConnectValues.bytes(value);
    }
}
