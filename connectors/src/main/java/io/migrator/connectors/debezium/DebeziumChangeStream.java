package io.migrator.connectors.debezium;

import io.debezium.embedded.Connect;
import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.spi.ChangeStream;
import java.io.IOException;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.connect.source.SourceRecord;
import org.slf4j.Logger;

/**
 * A change stream read through an embedded Debezium engine, seeded with the position committed on the target and run on
 * a thread of its own. A subclass brings its connector's settings and what it makes of a batch.
 *
 * <p>Invariant: a batch the worker refused because it is stopping ({@link ChangeStream.Stopping}) is never marked
 * processed, so the next start replays it from the checkpoint; and the stream runs exactly while its engine does, with
 * {@link #failure()} saying why it ended (null after a clean end). When a handed-on record counts as processed is the
 * subclass's call ({@link Batches}): the binlog marks its batch at once, the WAL only what the target has committed,
 * since the slot lets the server recycle what is marked.
 */
public abstract class DebeziumChangeStream implements ChangeStream {
    /** What a stream does with one batch of the engine. */
    @FunctionalInterface
    public interface Batches {
        /**
         * Hands the records on and marks processed what may be. Throws {@link ChangeStream.Stopping} (from the worker's
         * handler) before marking anything, when the worker stops.
         */
        void accept(List<ChangeEvent<SourceRecord, SourceRecord>> records,
                DebeziumEngine.RecordCommitter<ChangeEvent<SourceRecord, SourceRecord>> committer) throws InterruptedException;
    }

    /** How a stream explains an end of its engine that migrator's own handler did not cause. */
    @FunctionalInterface
    public interface Ending {
        /** The failure, with its remedy, or null when the engine ended cleanly. */
        MigratorException explain(boolean success, String message, Throwable error);
    }

    /** Its lines are the stream's own: the log pattern prints the logger's name, and operators look for the stream's. */
    private final Logger log;
    /** What the log calls the stream: "binlog stream", "WAL stream". */
    private final String stream;
    private final ExecutorService executor;
    private DebeziumEngine<ChangeEvent<SourceRecord, SourceRecord>> engine;
    private volatile boolean running;
    private volatile Throwable failure;

    /** {@code thread} names the engine's thread, as thread dumps show it. */
    protected DebeziumChangeStream(String stream, String thread, Logger log) {
        this.stream = stream;
        this.log = log;
        this.executor = Executors.newSingleThreadExecutor(r -> new Thread(r, thread));
    }

    /**
     * The settings every stream's engine takes: its name, the offset store seeded with {@code offset} (the position
     * committed on the target, as Debezium writes it), the source to read and how failures end the engine. The stream
     * adds its connector's own. The topic prefix is also the partition the seeded offset is filed under.
     */
    protected static Properties settings(Endpoint source, String prefix, String offset) {
        Properties props = new Properties();
        String engineName = "migrator-" + prefix;
        props.setProperty("name", engineName);
        props.setProperty("offset.storage", SeededOffsetStore.class.getName());
        props.setProperty(SeededOffsetStore.ENGINE_NAME, engineName);
        props.setProperty(SeededOffsetStore.PARTITION_SERVER, prefix);
        props.setProperty(SeededOffsetStore.OFFSET_JSON, offset);
        props.setProperty("database.hostname", source.host());
        props.setProperty("database.port", Integer.toString(source.port()));
        props.setProperty("database.user", source.user());
        props.setProperty("database.password", source.password().reveal());
        props.setProperty("topic.prefix", prefix);
        io.migrator.connectors.jdbc.DriverTls.addTo(props, io.migrator.connectors.jdbc.DriverTls.debezium(source));
        props.setProperty("heartbeat.interval.ms", "1000");
        props.setProperty("tombstones.on.delete", "false");
        props.setProperty("skipped.operations", "none"); // the default skips TRUNCATE, which would leave the target's rows behind
        props.setProperty("poll.interval.ms", "50");
        // an event the connector cannot process stops the stream: skipped, its change would be missing on the target
        props.setProperty("event.processing.failure.handling.mode", "fail");
        props.setProperty("errors.max.retries", "-1");
        return props;
    }

    /** Whether the engine ended because the source went away: see {@link io.migrator.connectors.jdbc.StreamEnds#sourceWentAway}. */
    protected static boolean sourceWentAway(String message, Throwable error) {
        return io.migrator.connectors.jdbc.StreamEnds.sourceWentAway(message, error);
    }

    /** The failure that ended the stream: retriable (reconnect) when the source went away, final otherwise. */
    protected static MigratorException stopped(ErrorCode code, String message, String remedy, String engineMessage, Throwable error) {
        return io.migrator.connectors.jdbc.StreamEnds.stopped(code, message, remedy, engineMessage, error);
    }

    /** The error's own message where it has one, else the engine's: what a stream's failure reports. */
    protected static String reason(String message, Throwable error) {
        return error != null && error.getMessage() != null ? error.getMessage() : message;
    }

    /** Builds the engine and starts it on its thread; batches go to {@code batches}, an end of the engine to {@code ending}. */
    protected final void startEngine(Properties settings, Batches batches, Ending ending) {
        engine = DebeziumEngine.create(Connect.class)
                .using(settings)
                .notifying((records, committer) -> {
                    lastEventSummaryOff();
                    try {
                        batches.accept(records, committer);
                    } catch (ChangeStream.Stopping stopping) {
                        // the worker stops: nothing of this batch is marked, close() follows (no engine failure logged)
                    }
                })
                .using((success, message, error) -> {
                    MigratorException ours = EngineFailures.ours(error);
                    if (ours != null) {
                        failure = ours; // our own handler stopped the stream (e.g. refused DDL): keep its message and remedy
                        log.warn("{} stopped: {}", stream, ours.getMessage());
                    } else {
                        MigratorException explained = ending.explain(success, message, error);
                        if (explained != null) {
                            failure = explained;
                        }
                    }
                    running = false;
                })
                .build();
        running = true;
        executor.execute(engine);
    }

    /** Debezium 3.5 would render every event for a JMX attribute migrator never reads (LastEventSummary). */
    private void lastEventSummaryOff() {
        int changed = LastEventSummary.apply(engine);
        if (changed > 0) {
            log.debug("LastEvent rendering turned off in {} event meter(s)", changed);
        }
    }

    /** The failure that ended the engine by itself; null while it runs and after a clean end. */
    @Override
    public final Throwable failure() {
        return failure;
    }

    @Override
    public final boolean running() {
        return running;
    }

    /**
     * Stops the engine and waits up to 30 s for its thread to end. An engine whose connection hangs (half-open: it never
     * answers, never fails) cannot stop in time: after 10 s it is left to end by itself, so a reconnect is not held up.
     */
    @Override
    public void close() {
        Thread closer = new Thread(() -> {
            try {
                if (engine != null) {
                    engine.close();
                }
            } catch (IOException | IllegalStateException e) {
                // IllegalStateException: the engine already stopped by itself (a failure, or our handler asked it to)
                log.debug("closing the {}", stream, e);
            }
        }, stream.replace(' ', '-') + "-close");
        closer.setDaemon(true);
        closer.start();
        try {
            closer.join(10_000);
            if (closer.isAlive()) {
                log.warn("the {} did not stop within 10 s (its connection hangs): left to end by itself", stream);
                executor.shutdownNow();
                return;
            }
            executor.shutdown();
            executor.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
