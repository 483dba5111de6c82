package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.debezium.engine.ChangeEvent;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.source.SourceRecord;
import org.junit.jupiter.api.Test;

/** When the kept schema history may be called whole: only once the binlog stream itself delivers, not during its capture. */
class MySqlChangeStreamTest {
    private static ChangeEvent<SourceRecord, SourceRecord> record(Map<String, ?> offset) {
        SourceRecord r = new SourceRecord(Map.of("server", "p"), offset, "p", null, null);
        return new ChangeEvent<>() {
            @Override
            public SourceRecord key() {
                return null;
            }

            @Override
            public SourceRecord value() {
                return r;
            }

            @Override
            public String destination() {
                return "p";
            }

            @Override
            public Integer partition() {
                return null;
            }
        };
    }

    @Test
    void schemaChangesOfTheCaptureDoNotMarkTheHistoryWholeAndAStreamedRecordDoes() {
        var capture = record(Map.of("file", "binlog.000003", "pos", 22027148L, "snapshot", "RECOVERY"));
        var streamed = record(Map.of("file", "binlog.000003", "pos", 24081526L, "gtids", "0-1-15234"));
        assertThat(MySqlChangeStream.streamed(List.of(capture, capture))).isFalse();
        assertThat(MySqlChangeStream.streamed(List.of(capture, streamed))).isTrue();
        assertThat(MySqlChangeStream.streamed(List.of())).isFalse();
    }
}
