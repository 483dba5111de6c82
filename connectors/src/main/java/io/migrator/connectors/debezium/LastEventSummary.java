package io.migrator.connectors.debezium;

import io.debezium.connector.common.BaseSourceTask;
import io.debezium.embedded.async.AsyncEmbeddedEngine;
import io.debezium.engine.DebeziumEngine;
import io.debezium.pipeline.ChangeEventSourceCoordinator;
import io.debezium.pipeline.meters.CommonEventMeter;
import io.debezium.pipeline.metrics.PipelineMetrics;
import io.debezium.pipeline.source.spi.EventMetadataProvider;
import io.debezium.pipeline.spi.OffsetContext;
import io.debezium.pipeline.txmetadata.TransactionInfo;
import io.debezium.spi.schema.DataCollectionId;
import java.lang.reflect.Field;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.connect.data.Struct;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns off the rendering of Debezium's JMX {@code LastEvent} attribute in an embedded engine.
 *
 * <p>Debezium 3.5 renders every dispatched event into a JSON summary for that attribute, and builds a new Jackson
 * {@code ObjectMapper} for each one ({@code SchemaUtil.asDetailedString} on the event's key). Measured here, that was
 * about a third of the change-event thread's time on the WAL and binlog paths (docs/benchmarks.md). Upstream replaced
 * it with a stateless encoder after 3.5 (debezium/dbz#2492); the MariaDB connector keeps migrator on 3.5.0 (STACK.md).
 *
 * <p>migrator reads none of Debezium's JMX attributes: its lag and counters are its own. So from the first batch of each
 * task, the event meters' metadata provider is wrapped by one whose summary is a constant. Everything else (positions,
 * timestamps, transaction ids, the streaming meter) still goes to the connector's own provider. The swap goes through
 * the engine's public {@code runWithTask} and then four non-public fields; if any of them is missing (another Debezium
 * version), nothing changes but speed, and {@link #apply} says so in the log once.
 */
public final class LastEventSummary {
    private static final Logger LOG = LoggerFactory.getLogger(LastEventSummary.class);
    /** What the LastEvent attribute shows instead of the rendered event. */
    public static final String SUMMARY = "(not rendered: migrator exposes its own metrics)";
    private static final AtomicBoolean WARNED = new AtomicBoolean();
    /** The meters changed, as "task-class field": what tests check. */
    private static final Set<String> CHANGED = ConcurrentHashMap.newKeySet();

    private LastEventSummary() {
    }

    /**
     * Wraps the metadata provider of the streaming and snapshot event meters of the engine's running task, where not done
     * yet. Cheap enough for every batch the handler receives (a few field reads), which also covers a task the engine
     * restarted after an error: its new meters are wrapped with its first batch. Returns how many meters it changed.
     */
    public static int apply(DebeziumEngine<?> engine) {
        if (!(engine instanceof AsyncEmbeddedEngine<?> async)) {
            return warn("the engine is a " + engine.getClass().getName(), null);
        }
        int[] changed = {0};
        try {
            Fields f = Fields.get();
            async.runWithTask(task -> {
                if (!(task instanceof BaseSourceTask<?, ?>) || !(get(f.coordinator, task) instanceof ChangeEventSourceCoordinator<?, ?> coordinator)) {
                    return;
                }
                for (Field meters : new Field[] {f.streamingMetrics, f.snapshotMetrics}) {
                    if (get(meters, coordinator) instanceof PipelineMetrics<?> metrics) {
                        CommonEventMeter meter = (CommonEventMeter) get(f.commonEventMeter, metrics);
                        EventMetadataProvider current = (EventMetadataProvider) get(f.metadataProvider, meter);
                        if (!(current instanceof Unrendered)) {
                            set(f.metadataProvider, meter, new Unrendered(current));
                            changed[0]++;
                            CHANGED.add(task.getClass().getSimpleName() + " " + meters.getName());
                        }
                    }
                }
            });
        } catch (RuntimeException e) {
            return warn(e.toString(), e);
        }
        return changed[0];
    }

    /** The non-public fields on the way from a task to its meters' provider, looked up once. */
    private record Fields(Field coordinator, Field streamingMetrics, Field snapshotMetrics, Field commonEventMeter, Field metadataProvider) {
        private static volatile Fields known;

        static Fields get() {
            Fields f = known;
            if (f == null) {
                f = new Fields(field(BaseSourceTask.class, "coordinator"), field(ChangeEventSourceCoordinator.class, "streamingMetrics"),
                        field(ChangeEventSourceCoordinator.class, "snapshotMetrics"), field(PipelineMetrics.class, "commonEventMeter"),
                        field(CommonEventMeter.class, "metadataProvider"));
                known = f;
            }
            return f;
        }
    }

    /** The meters changed so far, as "task-class field", e.g. {@code MariaDbConnectorTask streamingMetrics}. */
    static Set<String> changedMeters() {
        return Set.copyOf(CHANGED);
    }

    private static int warn(String why, Throwable e) {
        if (WARNED.compareAndSet(false, true)) {
            LOG.info("Debezium renders every event for its LastEvent metric, which costs throughput ({})", why);
            LOG.debug("turning off the LastEvent rendering", e);
        }
        return 0;
    }

    private static Field field(Class<?> owner, String name) {
        try {
            Field f = owner.getDeclaredField(name);
            f.setAccessible(true);
            return f;
        } catch (NoSuchFieldException e) {
            throw new IllegalStateException(owner.getSimpleName() + "." + name + " is gone", e);
        }
    }

    private static Object get(Field f, Object from) {
        try {
            return f.get(from);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void set(Field f, Object on, Object value) {
        try {
            f.set(on, value);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The connector's provider, except that an event's summary is not rendered. */
    record Unrendered(EventMetadataProvider delegate) implements EventMetadataProvider {
        @Override
        public Instant getEventTimestamp(DataCollectionId source, OffsetContext offset, Object key, Struct value) {
            return delegate.getEventTimestamp(source, offset, key, value);
        }

        @Override
        public Map<String, String> getEventSourcePosition(DataCollectionId source, OffsetContext offset, Object key, Struct value) {
            return delegate.getEventSourcePosition(source, offset, key, value);
        }

        @Override
        public String getTransactionId(DataCollectionId source, OffsetContext offset, Object key, Struct value) {
            return delegate.getTransactionId(source, offset, key, value);
        }

        @Override
        public TransactionInfo getTransactionInfo(DataCollectionId source, OffsetContext offset, Object key, Struct value) {
            return delegate.getTransactionInfo(source, offset, key, value);
        }

        @Override
        public String toSummaryString(DataCollectionId source, OffsetContext offset, Object key, Struct value) {
            return SUMMARY;
        }
    }
}
