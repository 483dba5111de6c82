package io.migrator.connectors.postgres;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.migrator.core.change.SourcePosition;
import java.util.LinkedHashMap;
import java.util.Map;
import org.postgresql.replication.LogSequenceNumber;

/**
 * A position in PostgreSQL's WAL as the change stream records it, as JSON: {@code lsn_commit} the end of the last
 * transaction applied whole, and inside a transaction its {@code txId} and the ordinal {@code seq} of the last applied
 * change ({@link PgOutputStream}); {@code lsn} and {@code lsn_proc} where the position is. It is the form the
 * Debezium-based stream of earlier versions stored (without {@code seq}), so their checkpoints resume. The start
 * position is the slot's consistent point alone: {@code {"lsn": ...}}.
 */
final class PostgresPosition {
    private static final ObjectMapper JSON = new ObjectMapper();

    private PostgresPosition() {
    }

    static SourcePosition start(LogSequenceNumber lsn) {
        return of(Map.of("lsn", lsn.asLong()));
    }

    static SourcePosition of(Map<String, ?> offset) {
        try {
            return new SourcePosition(JSON.writeValueAsString(new java.util.TreeMap<>(offset)));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static Map<String, Object> offset(SourcePosition position) {
        try {
            Map<String, Object> map = JSON.readValue(position.text(), new TypeReference<LinkedHashMap<String, Object>>() {
            });
            // JSON numbers come back as Integer when small: LSNs and xids are read as Long
            map.replaceAll((k, v) -> v instanceof Integer i ? Long.valueOf(i) : v);
            return map;
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("not a PostgreSQL position: " + position.text(), e);
        }
    }

    /** How far the position has got in the WAL: the last commit or completely processed change, whichever is later. */
    static long reach(SourcePosition position) {
        Map<String, Object> offset = offset(position);
        long reach = 0;
        for (String key : new String[] {"lsn_commit", "lsn_proc", "lsn"}) {
            if (offset.get(key) instanceof Number n) {
                reach = Math.max(reach, n.longValue());
            }
        }
        return reach;
    }

    /**
     * How far the slot may have been confirmed for the server to send from this position everything the target lacks: a
     * position inside a transaction needs that transaction sent again, which the server does while the slot is confirmed
     * no further than where it commits ({@code lsn_final}, the Begin's final LSN; a keepalive between transactions may
     * have confirmed the slot past the transaction's first changes); otherwise its {@link #reach}.
     */
    static long resumeLimit(SourcePosition position) {
        Map<String, Object> offset = offset(position);
        if (offset.get("txId") != null && offset.get("lsn_final") instanceof Number n) {
            return Math.max(n.longValue(), reach(position));
        }
        return reach(position);
    }

    /** Whether the position is only a start (nothing applied yet). */
    static boolean isStart(SourcePosition position) {
        Map<String, Object> offset = offset(position);
        return offset.size() == 1 && offset.containsKey("lsn");
    }

    static String text(long lsn) {
        return LogSequenceNumber.valueOf(lsn).asString();
    }
}
