package io.migrator.connectors.postgres;

import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.migrator.connectors.debezium.DebeziumChangeStream;
import io.migrator.connectors.debezium.DebeziumKeys;
import io.migrator.core.change.ChangeBatch;
import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The WAL as a change stream: the embedded Debezium PostgreSQL connector (pgoutput) reading the migration's slot
 * through its publication. The engine is seeded with the position committed on the target. The slot is told a position
 * is processed only after the target committed it ({@link #applied}), so the server never recycles WAL the target
 * still needs, and a restart always finds it there.
 */
final class PostgresChangeStream extends DebeziumChangeStream {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresChangeStream.class);

    private final Plan plan;
    private final Map<TableId, TableDef> tables = new HashMap<>();
    /** Per table, worked out once, not per event: its bit varying columns and its array columns of a type other than bytea. */
    private final Map<TableId, java.util.Set<String>> bitVarying = new HashMap<>();
    private final Map<TableId, java.util.Set<String>> textArrays = new HashMap<>();
    private final SourcePosition from;
    private final String slot;
    private final String publication;
    private final PostgresSource source;
    private final String prefix;
    /** Whether the heartbeat table exists (its action query then writes a row every second): see {@link #beats}. */
    private volatile boolean beating = true;

    @Override
    public boolean beats() {
        return beating;
    }

    /** A delete that starts a key change and ended a batch: it goes with the next batch, where its create is (engine thread only). */
    private final List<RowChange> carried = new ArrayList<>();
    /** Batches handed on and not yet acknowledged to the slot, oldest first (engine thread only). */
    private final ArrayDeque<Emitted> emitted = new ArrayDeque<>();
    /** Positions the target committed, in order (from the applier thread). */
    private final ConcurrentLinkedQueue<SourcePosition> appliedPositions = new ConcurrentLinkedQueue<>();

    private record Emitted(SourcePosition position, ChangeEvent<SourceRecord, SourceRecord> last) {
    }

    PostgresChangeStream(Plan plan, List<TableDef> tables, SourcePosition from, String slot, String publication, PostgresSource source) {
        super("WAL stream", "wal-stream", LOG);
        this.plan = plan;
        for (TableDef t : tables) {
            this.tables.put(t.id(), t);
            bitVarying.put(t.id(), t.columns().stream().filter(c -> c.type().startsWith("bit varying")).map(c -> c.name())
                    .collect(Collectors.toSet()));
            textArrays.put(t.id(), t.columns().stream().filter(c -> c.type().endsWith("[]") && !c.type().startsWith("bytea"))
                    .map(c -> c.name()).collect(Collectors.toSet()));
        }
        this.from = from;
        this.slot = slot;
        this.publication = publication;
        this.source = source;
        this.prefix = slot;
    }

    @Override
    public void start(Handler handler) {
        Properties props = settings(plan.source(), prefix, from.text());
        props.setProperty("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
        // the slot hears of processed positions when offsets are committed: every 2 s, of what the target has committed
        props.setProperty("offset.flush.interval.ms", "2000");
        props.setProperty("database.dbname", plan.source().database());
        props.setProperty("plugin.name", "pgoutput");
        props.setProperty("slot.name", slot);
        props.setProperty("publication.name", publication);
        props.setProperty("publication.autocreate.mode", "disabled");
        props.setProperty("snapshot.mode", "no_data");
        props.setProperty("slot.drop.on.stop", "false");
        boolean beating;
        try (var c = PostgresConnector.connect(plan.source(), plan.source().database(), java.time.Duration.ofSeconds(10))) {
            beating = PostgresHeartbeat.exists(c);
            this.beating = beating;
        } catch (java.sql.SQLException e) {
            throw PostgresErrors.translate("connecting to the source for the change stream", e);
        }
        String include = tables.keySet().stream().map(t -> Pattern.quote(t.schema()) + "\\." + Pattern.quote(t.name())).collect(Collectors.joining(","));
        if (beating) {
            include = include + (include.isEmpty() ? "" : ",") + Pattern.quote(PostgresHeartbeat.SCHEMA) + "\\." + Pattern.quote(PostgresHeartbeat.TABLE);
            props.setProperty("heartbeat.action.query", PostgresHeartbeat.query(plan.name()));
        }
        props.setProperty("table.include.list", include.isEmpty() ? "migrator_no_table\\.none" : include);
        String keyColumns = DebeziumKeys.messageKeyColumns(List.copyOf(tables.values()));
        if (!keyColumns.isEmpty()) {
            props.setProperty("message.key.columns", keyColumns);
        }
        props.setProperty("decimal.handling.mode", "string");
        props.setProperty("interval.handling.mode", "string");
        props.setProperty("hstore.handling.mode", "map");
        props.setProperty("binary.handling.mode", "bytes");
        props.setProperty("time.precision.mode", "adaptive_time_microseconds");
        props.setProperty("include.unknown.datatypes", "true");
        props.setProperty("unavailable.value.placeholder", PostgresValues.PLACEHOLDER);
        // every queued record is live at each young collection and gets copied: 16,384 records made G1's pauses 50 ms on
        // average (5.4 s in a 1M-event catch-up); 6,144 halve that, and three batches still cover the applier's commit
        props.setProperty("max.batch.size", "2048");
        props.setProperty("max.queue.size", "6144");
        props.setProperty("status.update.interval.ms", "1000");
        startEngine(props, (records, committer) -> {
            handle(records, handler);
            acknowledge(committer);
        }, this::ended);
        LOG.info("WAL stream started from {} (slot {}, publication {})", from.text(), slot, publication);
    }

    /** Why the engine ended by itself, its own handler aside: null when it ended cleanly. */
    private MigratorException ended(boolean success, String message, Throwable error) {
        if (!success || error != null) {
            MigratorException failure = stopped(ErrorCode.CANNOT_CONNECT, "the WAL stream stopped: "
                    + reason(message, error), "check that the source is reachable and that the replication slot "
                    + slot + " still exists (SELECT * FROM pg_replication_slots); `migrator run` again resumes from the last "
                    + "checkpoint", message, error);
            LOG.warn("WAL stream stopped: {}", message);
            return failure;
        }
        return null;
    }

    @Override
    public void applied(SourcePosition position) {
        appliedPositions.add(position);
    }

    /** Marks processed the last record of every batch the target has committed, so the next offset flush confirms it. */
    private void acknowledge(DebeziumEngine.RecordCommitter<ChangeEvent<SourceRecord, SourceRecord>> committer) throws InterruptedException {
        SourcePosition done;
        boolean any = false;
        while ((done = appliedPositions.poll()) != null) {
            while (!emitted.isEmpty()) {
                Emitted head = emitted.poll();
                if (head.position() == done) {
                    committer.markProcessed(head.last());
                    any = true;
                    break;
                }
            }
        }
        if (any) {
            committer.markBatchFinished();
        }
    }

    private void handle(List<ChangeEvent<SourceRecord, SourceRecord>> records, Handler handler) throws InterruptedException {
        List<RowChange> changes = new ArrayList<>(carried);
        carried.clear();
        ChangeEvent<SourceRecord, SourceRecord> last = null;
        ChangeEvent<SourceRecord, SourceRecord> beforeLast = null; // where a batch may end when its last record must be carried
        long sourceMillis = 0;
        for (ChangeEvent<SourceRecord, SourceRecord> event : records) {
            SourceRecord record = event.value();
            if (record == null || record.sourceOffset() == null || record.sourceOffset().isEmpty()) {
                continue;
            }
            if (last != null) {
                beforeLast = last;
            }
            if (record.topic().startsWith("__debezium-heartbeat")) {
                last = event;
                continue;
            }
            Struct value = (Struct) record.value();
            if (value == null || value.schema().field("op") == null) {
                continue;
            }
            Struct src = value.getStruct("source");
            TableId table = new TableId(src.getString("schema"), src.getString("table"));
            if (src.get("ts_ms") != null) {
                sourceMillis = Math.max(sourceMillis, src.getInt64("ts_ms"));
            }
            last = event;
            if (table.schema().equals(PostgresHeartbeat.SCHEMA) && table.name().equals(PostgresHeartbeat.TABLE)) {
                continue;
            }
            String op = value.getString("op");
            if (op.equals("t")) {
                // the rows before the TRUNCATE go first, then the statement. CASCADE: a table referencing this one was truncated on
                // the source in the same statement (PostgreSQL allows nothing else), its own event follows with no row in between
                if (!changes.isEmpty()) {
                    emit(handler, changes, event, sourceMillis, List.of());
                    changes = new ArrayList<>();
                }
                emit(handler, List.of(), event, sourceMillis, List.of("TRUNCATE TABLE " + PostgresDialect.quote(table) + " CASCADE"));
                last = null;
                beforeLast = null;
                continue;
            }
            if (op.equals("m")) {
                continue; // logical decoding messages carry no rows
            }
            changes.add(toChange(record, value, op, table));
        }
        if (last != null && !changes.isEmpty() && changes.get(changes.size() - 1) instanceof RowChange.Delete
                && DebeziumKeys.startsKeyChange(last.value())) {
            // the first half of a key change ends this batch: it goes with the next one (its create shares the offset), and this
            // batch ends before it, or nothing is emitted now
            carried.add(changes.remove(changes.size() - 1));
            if (beforeLast == null) {
                carried.addAll(0, changes);
                return;
            }
            last = beforeLast;
        }
        if (last != null) {
            emit(handler, changes, last, sourceMillis, List.of());
        }
    }

    private void emit(Handler handler, List<RowChange> changes, ChangeEvent<SourceRecord, SourceRecord> last, long sourceMillis, List<String> ddl)
            throws InterruptedException {
        SourcePosition position = PostgresPosition.of(last.value().sourceOffset());
        emitted.add(new Emitted(position, last));
        handler.onBatch(new ChangeBatch(changes, position, sourceMillis, ddl));
    }

    private RowChange toChange(SourceRecord record, Struct value, String op, TableId table) {
        Struct key = (Struct) record.key();
        if (key == null) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "a change of " + table + " carries no key",
                    "give the table a key its changes carry (ALTER TABLE ... REPLICA IDENTITY USING INDEX a unique index over NOT NULL "
                            + "columns, or ADD PRIMARY KEY), then `migrator run` again");
        }
        RowKey rowKey = DebeziumKeys.rowKey(table, key, PostgresValues::input);
        List<Object> keyValues = rowKey.values();
        if (op.equals("d")) {
            return new RowChange.Delete(rowKey);
        }
        Struct after = value.getStruct("after");
        Map<String, Object> row = new LinkedHashMap<>();
        java.util.Set<String> texts = textArrays.getOrDefault(table, java.util.Set.of());
        for (Field field : after.schema().fields()) {
            boolean byteaElements = field.schema().type() != Schema.Type.ARRAY || !texts.contains(field.name());
            row.put(field.name(), PostgresValues.input(field.schema(), after.get(field), byteaElements));
        }
        TableDef columns = tables.get(table);
        if (columns != null && bitVarying.getOrDefault(table, java.util.Set.of()).stream().anyMatch(c -> row.get(c) != null)) {
            // Debezium passes a bit varying value as bytes and the column's maximum length, so its leading zeros are lost
            // (B'0101' would arrive as B'101' padded to the maximum): the row is read from the source instead, a later
            // state that the stream's following changes bring back in line, as with a late chunk
            return source.readRow(columns, keyValues);
        }
        if (op.equals("c") && RowChange.partial(row)) {
            // the new-key half of a key change whose TOAST values did not change: the row does not exist on the target
            // under this key, so the unchanged values come from the source's current row (a later state, which the
            // stream's following changes bring back in line)
            TableDef def = tables.get(table);
            if (def != null) {
                return source.readRow(def, keyValues);
            }
        }
        return new RowChange.Upsert(rowKey, row);
    }
}
