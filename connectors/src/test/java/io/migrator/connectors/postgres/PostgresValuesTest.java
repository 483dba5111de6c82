package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.change.RowChange;
import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.state.Chunk;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.junit.jupiter.api.Test;

/** Debezium values back to PostgreSQL input text, and the SQL the copy and the writer build, without a server. */
class PostgresValuesTest {
    private static Schema named(String name) {
        return SchemaBuilder.int64().name(name).build();
    }

    @Test
    void temporalValuesBecomeServerInputIncludingBcDatesAndTheEndOfTheDay() {
        assertThat(PostgresValues.input(SchemaBuilder.int32().name("io.debezium.time.Date").build(), 0)).isEqualTo("1970-01-01");
        // 44 BC is astronomical year -43 in java.time
        long days = java.time.LocalDate.of(-43, 3, 15).toEpochDay();
        assertThat(PostgresValues.input(SchemaBuilder.int32().name("io.debezium.time.Date").build(), (int) days)).isEqualTo("0044-03-15 BC");
        assertThat(PostgresValues.input(named("io.debezium.time.MicroTimestamp"), 1_000_001L)).isEqualTo("1970-01-01T00:00:01.000001");
        assertThat(PostgresValues.input(named("io.debezium.time.MicroTime"), 86_400_000_000L)).isEqualTo("24:00:00");
        assertThat(PostgresValues.input(named("io.debezium.time.MicroTime"), 45_296_789_012L)).isEqualTo("12:34:56.789012");
    }

    @Test
    void arraysAreQuotedAndEscapedAndKeepNullApartFromEmpty() {
        Schema texts = SchemaBuilder.array(Schema.OPTIONAL_STRING_SCHEMA).build();
        assertThat(PostgresValues.input(texts, Arrays.asList("a\"b", "c\\d", null, "", "x,y {z}")))
                .isEqualTo("{\"a\\\"b\",\"c\\\\d\",NULL,\"\",\"x,y {z}\"}");
        Schema bytes = SchemaBuilder.array(Schema.OPTIONAL_BYTES_SCHEMA).build();
        assertThat(PostgresValues.input(bytes, List.of(new byte[] {1, (byte) 0xff}))).isEqualTo("{\"\\\\x01ff\"}");
    }

    @Test
    void debeziumsUnchangedToastPlaceholderBecomesTheMarkerInEveryForm() {
        byte[] bytes = PostgresValues.PLACEHOLDER.getBytes(StandardCharsets.UTF_8);
        assertThat(PostgresValues.input(Schema.STRING_SCHEMA, PostgresValues.PLACEHOLDER)).isSameAs(RowChange.UNCHANGED);
        assertThat(PostgresValues.input(Schema.BYTES_SCHEMA, bytes.clone())).isSameAs(RowChange.UNCHANGED);
        assertThat(PostgresValues.input(SchemaBuilder.array(Schema.STRING_SCHEMA).build(), List.of(PostgresValues.PLACEHOLDER)))
                .isSameAs(RowChange.UNCHANGED);
        List<Integer> ints = new java.util.ArrayList<>();
        for (byte b : bytes) {
            ints.add((int) b);
        }
        assertThat(PostgresValues.input(SchemaBuilder.array(Schema.INT32_SCHEMA).build(), ints)).isSameAs(RowChange.UNCHANGED);
        assertThat(PostgresValues.input(Schema.STRING_SCHEMA, "__debezium_unavailable_value")).isEqualTo("__debezium_unavailable_value");
    }

    @Test
    void bitsFloatsAndHstoreKeepTheirMeaning() {
        Schema bits = SchemaBuilder.bytes().name("io.debezium.data.Bits").parameter("length", "10").build();
        assertThat(PostgresValues.input(bits, new byte[] {0b0000_0101, 0b10})).isEqualTo("1000000101");
        assertThat(PostgresValues.input(Schema.FLOAT64_SCHEMA, Double.NaN)).isEqualTo("NaN");
        assertThat(PostgresValues.input(Schema.FLOAT32_SCHEMA, Float.NEGATIVE_INFINITY)).isEqualTo("-Infinity");
        Schema map = SchemaBuilder.map(Schema.STRING_SCHEMA, Schema.OPTIONAL_STRING_SCHEMA).build();
        assertThat(PostgresValues.input(map, new java.util.LinkedHashMap<>(Map.of("k\"", "v")))).isEqualTo("\"k\\\"\"=>\"v\"");
    }

    @Test
    void chunkPredicatesAndTheCreateStatementWithoutItsKey() {
        TableDef ints = new TableDef(new TableId("public", "t"), List.of(new ColumnDef("id", "bigint", false, false)), List.of("id"),
                "CREATE TABLE \"public\".\"t\" (\n  \"id\" bigint NOT NULL,\n  PRIMARY KEY (\"id\")\n)", 10);
        assertThat(PostgresChunks.where(ints, new Chunk(1, "10", "20"))).isEqualTo("\"id\" > 10 AND \"id\" <= 20");
        assertThat(PostgresSchema.withoutPrimaryKey(ints)).isEqualTo("CREATE TABLE \"public\".\"t\" (\n  \"id\" bigint NOT NULL\n)");
        TableDef composite = new TableDef(new TableId("public", "o"), List.of(new ColumnDef("k", "text", false, false),
                new ColumnDef("n", "integer", false, false)), List.of("k", "n"),
                "CREATE TABLE \"public\".\"o\" (\n  \"k\" text NOT NULL,\n  \"n\" integer NOT NULL,\n  PRIMARY KEY (\"k\", \"n\")\n) PARTITION BY HASH (n)", 10);
        assertThat(PostgresChunks.where(composite, new Chunk(2, PostgresChunks.encode(List.of("it's", "5")), null)))
                .isEqualTo("(\"k\", \"n\") > ROW('it''s'::text, '5'::integer)");
        assertThat(PostgresSchema.withoutPrimaryKey(composite)).endsWith("\"n\" integer NOT NULL\n) PARTITION BY HASH (n)");
        TableDef keyless = new TableDef(new TableId("public", "h"), List.of(new ColumnDef("v", "text", true, false)), List.of(), "", 10);
        assertThat(PostgresChunks.where(keyless, new Chunk(3, "ctid:8", "ctid:16"))).isEqualTo("ctid >= '(8,0)'::tid AND ctid < '(16,0)'::tid");
    }

    @Test
    void slotNamesAreValidAndTwoPlansNeverShareOne() {
        assertThat(PostgresSource.slotName("shop_a")).isEqualTo("migrator_shop_a");
        assertThat(PostgresSource.slotName("shop-a")).startsWith("migrator_shop_a_").isNotEqualTo(PostgresSource.slotName("shop_a"));
        String longName = "x".repeat(80);
        assertThat(PostgresSource.slotName(longName)).hasSizeLessThanOrEqualTo(63).matches("[a-z0-9_]+")
                .isNotEqualTo(PostgresSource.slotName(longName + "y"));
    }
}
