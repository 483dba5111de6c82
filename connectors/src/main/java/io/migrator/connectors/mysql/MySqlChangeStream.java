package io.migrator.connectors.mysql;

import io.debezium.engine.ChangeEvent;
import io.migrator.connectors.debezium.DebeziumChangeStream;
import io.migrator.connectors.debezium.DebeziumKeys;
import io.migrator.core.change.ChangeBatch;
import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Glob;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The binlog as a change stream, through the embedded Debezium MariaDB/MySQL connector. The engine is
 * seeded with the position committed on the target; its batches are handed on in order, split at DDL
 * so each statement is applied between the rows before and after it.
 */
final class MySqlChangeStream extends DebeziumChangeStream {
    private static final Logger LOG = LoggerFactory.getLogger(MySqlChangeStream.class);

    private final Plan plan;
    private final BinlogPosition from;
    private final String streamId;
    private final String prefix;
    /** A delete of a primary-key update shares its offset with the create that follows; it never ends a batch alone. */
    private final List<RowChange> carried = new ArrayList<>();
    private Path historyComplete;
    private boolean streaming;
    private SourceHeartbeat heartbeat;
    /** Whether the source heartbeat runs (a login without write access to migrator.* has none): see {@link #beats}. */
    private volatile boolean beating = true;

    @Override
    public boolean beats() {
        return beating;
    }

    /** Debezium's message.key.columns: the tables keyed by a unique index, so their events carry that key ("" for none). */
    private final String keyColumns;

    MySqlChangeStream(Plan plan, BinlogPosition from, String streamId, String keyColumns) {
        super("binlog stream", "binlog-stream", LOG);
        this.plan = plan;
        this.keyColumns = keyColumns;
        this.from = from;
        this.streamId = streamId;
        this.prefix = plan.name().replaceAll("[^A-Za-z0-9_]", "_");
    }

    static Path stateDir() {
        return io.migrator.core.state.StateDir.path();
    }

    @Override
    public void start(Handler handler) {
        Path history = stateDir().resolve(streamId + ".schema-history");
        try {
            Files.createDirectories(history.getParent());
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.INTERNAL, "cannot create " + history.getParent() + ": " + e.getMessage(),
                    "set MIGRATOR_STATE_DIR to a writable folder");
        }
        // The history is whole once streaming has begun (the marker); a run killed while capturing it starts that again.
        Path complete = history.resolveSibling(history.getFileName() + ".complete");
        boolean known = Files.isRegularFile(history) && Files.isRegularFile(complete);
        if (!known) {
            try {
                Files.deleteIfExists(history);
            } catch (IOException e) {
                throw new MigratorException(ErrorCode.INTERNAL, "cannot reset " + history + ": " + e.getMessage(),
                        "delete the file by hand, or set MIGRATOR_STATE_DIR to a writable folder");
            }
        }
        this.historyComplete = complete;
        Properties props = settings(plan.source(), prefix, from.toSourcePosition().text());
        props.setProperty("connector.class", plan.source().engine() == Engine.MARIADB
                ? "io.debezium.connector.mariadb.MariaDbConnector" : "io.debezium.connector.mysql.MySqlConnector");
        props.setProperty("offset.flush.interval.ms", "60000");
        props.setProperty("database.server.id", Integer.toString(serverId(plan.name())));
        heartbeat = new SourceHeartbeat(plan);
        boolean beating = heartbeat.start();
        this.beating = beating;
        String heartbeatTable = Pattern.quote(SourceHeartbeat.DATABASE) + "\\." + Pattern.quote(SourceHeartbeat.TABLE);
        props.setProperty("database.include.list", Pattern.quote(plan.source().database())
                + (beating ? "," + Pattern.quote(SourceHeartbeat.DATABASE) : ""));
        props.setProperty("table.include.list", tableRegex() + (beating ? "," + heartbeatTable : ""));
        if (!keyColumns.isEmpty()) {
            props.setProperty("message.key.columns", keyColumns);
        }
        props.setProperty("schema.history.internal", "io.debezium.storage.file.history.FileSchemaHistory");
        props.setProperty("schema.history.internal.file.filename", history.toString());
        props.setProperty("schema.history.internal.store.only.captured.databases.ddl", "true");
        props.setProperty("include.schema.changes", "true");
        // Without history, capture today's table shapes and stream from the seeded position; afterwards the history has them.
        props.setProperty("snapshot.mode", known ? "no_data" : "recovery");
        props.setProperty("snapshot.locking.mode", "none");
        props.setProperty("bigint.unsigned.handling.mode", "precise");
        props.setProperty("decimal.handling.mode", "precise");
        props.setProperty("binary.handling.mode", "bytes");
        props.setProperty("max.batch.size", "4096");
        // queued records are live at every young collection and get copied: a smaller queue means shorter GC pauses
        // (measured on the WAL path, docs/benchmarks.md); two batches still cover the applier's commit
        props.setProperty("max.queue.size", "8192");
        startEngine(props, (records, committer) -> {
            markStreaming(records);
            handle(records, handler);
            // the engine's offsets stay in memory and every start is seeded from the target's checkpoint: marking a batch
            // once handed on releases nothing the target still needs
            for (ChangeEvent<SourceRecord, SourceRecord> r : records) {
                committer.markProcessed(r);
            }
            committer.markBatchFinished();
        }, this::ended);
        LOG.info("binlog stream started from {} (schema history {})", from.toSourcePosition().text(), known ? "kept" : "captured now");
    }

    /** Why the engine ended by itself, its own handler aside: null when it ended cleanly. */
    private MigratorException ended(boolean success, String message, Throwable error) {
        if (unknownSchema(error)) {
            // a history taken by an older build, or damaged: the next start captures it again (as the first did)
            try {
                Files.deleteIfExists(historyComplete);
            } catch (IOException e) {
                LOG.warn("cannot remove {}: remove it by hand", historyComplete);
            }
            MigratorException failure = new MigratorException(ErrorCode.INTERNAL, "the binlog stream stopped: the kept schema history "
                    + "lacks a table of the stream (" + error.getMessage() + ")", "run `migrator run` again: the next start captures "
                    + "the schema history again and resumes from the target's checkpoint", error);
            LOG.warn("binlog stream stopped: the schema history lacks a table; the next start captures it again");
            return failure;
        }
        if (!success || error != null) {
            MigratorException failure = stopped(ErrorCode.CANNOT_CONNECT, "the binlog stream stopped: "
                    + reason(message, error), "check that the source is reachable and still holds the binlogs from "
                    + "the last checkpoint (binlog_expire_logs_seconds); `migrator run` again resumes from that checkpoint", message, error);
            LOG.warn("binlog stream stopped: {}", message);
            return failure;
        }
        return null;
    }

    /**
     * The history is whole once a record of the binlog stream itself arrives. The schema-change records the capture emits
     * while it runs carry {@code snapshot} in their offset: one of those alone says nothing (a kill -9 right after it left a
     * history without the heartbeat table marked whole, and every later start failed on the first heartbeat).
     */
    private void markStreaming(List<ChangeEvent<SourceRecord, SourceRecord>> records) {
        if (!streaming && streamed(records)) {
            streaming = true;
            try {
                Files.writeString(historyComplete, "schema history complete\n");
            } catch (IOException e) {
                LOG.warn("cannot write {}: the next start captures the schema again", historyComplete);
            }
        }
    }

    private static boolean unknownSchema(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t.getMessage() != null && t.getMessage().contains("whose schema isn't known to this connector")) {
                return true;
            }
        }
        return false;
    }

    /** Whether a batch holds a record of the binlog stream, not only of the schema capture before it. */
    static boolean streamed(List<ChangeEvent<SourceRecord, SourceRecord>> records) {
        return records.stream().anyMatch(r -> r.value() != null && r.value().sourceOffset() != null
                && !r.value().sourceOffset().containsKey("snapshot"));
    }

    private String tableRegex() {
        String db = Pattern.quote(plan.source().database());
        return plan.tables().include().stream().map(g -> globRegex(g, db)).collect(Collectors.joining(","));
    }

    private static String globRegex(Glob glob, String db) {
        String regex = glob.regex().pattern();
        return glob.qualified() ? regex : db + "\\." + regex;
    }

    /** A replica needs a server id no other replica uses: one derived from the migration name, in a range MySQL leaves free. */
    static int serverId(String name) {
        return 5_400_000 + Math.floorMod(name.hashCode(), 1_000_000);
    }

    private void handle(List<ChangeEvent<SourceRecord, SourceRecord>> records, Handler handler) throws InterruptedException {
        List<RowChange> changes = new ArrayList<>(carried);
        carried.clear();
        // The position is rendered only where a batch ends: once per batch, not once per record.
        SourceRecord last = null;
        long sourceMillis = 0;
        for (ChangeEvent<SourceRecord, SourceRecord> event : records) {
            SourceRecord record = event.value();
            if (record == null) {
                continue;
            }
            String topic = record.topic();
            if (topic.equals(prefix)) {
                Struct value = (Struct) record.value();
                if (fromSchemaSnapshot(value)) {
                    // The schema capture at start describes tables as they are now; its offset is the binlog's current
                    // end, far ahead of the position the stream resumes from. Never checkpoint it: a restart would skip
                    // every change in between.
                    continue;
                }
                // DDL: apply what came before, then the statement, each with its own position.
                if (!changes.isEmpty() && last != null) {
                    handler.onBatch(new ChangeBatch(changes, position(last), sourceMillis, List.of()));
                    changes = new ArrayList<>();
                }
                String ddl = value.getString("ddl");
                String database = value.schema().field("databaseName") != null ? value.getString("databaseName") : "";
                boolean ours = database == null || database.isEmpty() || database.equals(plan.source().database());
                handler.onBatch(new ChangeBatch(List.of(), position(record), 0, ours && ddl != null ? List.of(ddl) : List.of()));
                last = null;
                continue;
            }
            if (topic.startsWith("__debezium-heartbeat")) {
                last = record;
                continue;
            }
            Struct value = (Struct) record.value();
            if (value == null) {
                continue;
            }
            long beat = heartbeatMillis(value);
            if (beat != 0) {
                sourceMillis = Math.max(sourceMillis, beat);
                last = record;
                continue;
            }
            if ("t".equals(value.schema().field("op") != null ? value.getString("op") : null)) {
                // TRUNCATE: the rows before it go first, then the statement with its own position (the core replays it)
                if (!changes.isEmpty() && last != null) {
                    handler.onBatch(new ChangeBatch(changes, position(last), sourceMillis, List.of()));
                    changes = new ArrayList<>();
                }
                String truncated = value.getStruct("source").getString("table");
                handler.onBatch(new ChangeBatch(List.of(), position(record), millis(value), List.of(MySqlDdlJudge.truncate(truncated))));
                last = null;
                continue;
            }
            RowChange change = toChange(record, value);
            if (change != null) {
                changes.add(change);
                sourceMillis = Math.max(sourceMillis, millis(value));
            }
            last = record;
        }
        SourcePosition position = last == null ? null : position(last);
        if (!changes.isEmpty() && changes.get(changes.size() - 1) instanceof RowChange.Delete
                && DebeziumKeys.startsKeyChange(records.get(records.size() - 1).value())) {
            carried.add(changes.remove(changes.size() - 1));
        }
        if (position != null && (carried.isEmpty() || !changes.isEmpty())) {
            if (!carried.isEmpty()) {
                // the position of the carried delete is the create's; stop before both
                position = previousPosition(records);
                if (position == null) {
                    return;
                }
            }
            handler.onBatch(new ChangeBatch(changes, position, sourceMillis, List.of()));
        }
    }

    private static SourcePosition position(SourceRecord record) {
        return new BinlogPosition(new LinkedHashMap<>(record.sourceOffset())).toSourcePosition();
    }

    private static SourcePosition previousPosition(List<ChangeEvent<SourceRecord, SourceRecord>> records) {
        for (int i = records.size() - 2; i >= 0; i--) {
            SourceRecord r = records.get(i).value();
            if (r != null && r.value() != null) {
                return new BinlogPosition(new LinkedHashMap<>(r.sourceOffset())).toSourcePosition();
            }
        }
        return null;
    }

    /** The source time written by {@link SourceHeartbeat}, when this event is a heartbeat row of this migration; else 0. */
    private long heartbeatMillis(Struct value) {
        Struct source = value.getStruct("source");
        if (source == null || !SourceHeartbeat.DATABASE.equals(source.getString("db")) || !SourceHeartbeat.TABLE.equals(source.getString("table"))) {
            return 0;
        }
        Struct after = value.getStruct("after");
        if (after == null || !plan.name().equals(after.getString("migration"))) {
            return -1; // another migration's heartbeat: skip it, keep the position
        }
        Object ts = after.get("ts");
        return ts instanceof Number micros ? micros.longValue() / 1000 : -1;
    }

    /** The schema capture at start emits the current definitions as DDL; they describe the past, not a change. */
    private static boolean fromSchemaSnapshot(Struct value) {
        Struct source = value.schema().field("source") != null ? value.getStruct("source") : null;
        if (source == null || source.schema().field("snapshot") == null || source.get("snapshot") == null) {
            return false;
        }
        String snapshot = String.valueOf(source.get("snapshot"));
        return !snapshot.equals("false");
    }

    private static long millis(Struct value) {
        Struct source = value.schema().field("source") != null ? value.getStruct("source") : null;
        if (source != null && source.get("ts_ms") != null) {
            return source.getInt64("ts_ms");
        }
        return 0;
    }

    private RowChange toChange(SourceRecord record, Struct value) {
        String op = value.schema().field("op") != null ? value.getString("op") : null;
        if (op == null) {
            return null;
        }
        Struct source = value.getStruct("source");
        TableId table = new TableId(source.getString("db"), source.getString("table"));
        Struct key = (Struct) record.key();
        if (key == null) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "a change of " + table + " has no key",
                    "give the table a primary key or a unique NOT NULL key");
        }
        RowKey rowKey = DebeziumKeys.rowKey(table, key, DebeziumValues::convert);
        if (op.equals("d")) {
            return new RowChange.Delete(rowKey);
        }
        Struct after = value.getStruct("after");
        Map<String, Object> row = new LinkedHashMap<>();
        for (Field field : after.schema().fields()) {
            row.put(field.name(), DebeziumValues.convert(field.schema(), after.get(field)));
        }
        return new RowChange.Upsert(rowKey, row);
    }

    @Override
    public void close() {
        if (heartbeat != null) {
            heartbeat.close();
        }
        super.close();
    }
}
