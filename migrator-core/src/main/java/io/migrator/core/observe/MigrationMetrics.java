package io.migrator.core.observe;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.migrator.core.spi.Worker;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.ToDoubleFunction;

/**
 * The migration's meters (names and labels in docs/metrics.md). Gauges read one status snapshot, refreshed at most
 * every 500 ms, so a scrape costs one status computation, not one per meter. Meters that depend on what the
 * migration discovers (tables, retry kinds, error codes) are registered as they appear.
 */
public final class MigrationMetrics {
    private static final long REFRESH_NANOS = 500_000_000L;

    private final MeterRegistry registry;
    private final Worker migration;
    private final Tags tags;
    private final AtomicReference<MigrationStatus> cached = new AtomicReference<>();
    private volatile long cachedAt;
    private final Set<String> tables = ConcurrentHashMap.newKeySet();
    private final Set<String> retryKinds = ConcurrentHashMap.newKeySet();
    private final Set<String> errorCodes = ConcurrentHashMap.newKeySet();
    private final Set<String> cutoverSteps = ConcurrentHashMap.newKeySet();

    private MigrationMetrics(MeterRegistry registry, Worker migration) {
        this.registry = registry;
        this.migration = migration;
        this.tags = Tags.of("migration", migration.plan().name());
    }

    public static MigrationMetrics bind(MeterRegistry registry, Worker migration) {
        MigrationMetrics metrics = new MigrationMetrics(registry, migration);
        metrics.register();
        return metrics;
    }

    private MigrationStatus status() {
        long now = System.nanoTime();
        MigrationStatus status = cached.get();
        if (status == null || now - cachedAt > REFRESH_NANOS) {
            status = migration.status();
            cached.set(status);
            cachedAt = now;
            discover(status);
        }
        return status;
    }

    private void gauge(String name, String unit, String help, ToDoubleFunction<MigrationStatus> value) {
        // strong reference: nothing else holds this object, and a weakly held gauge turns NaN after the first GC
        Gauge.builder(unit == null ? name : name + "." + unit, this, m -> value.applyAsDouble(m.status())).tags(tags).description(help)
                .strongReference(true).register(registry);
    }

    private static double orNaN(Number n) {
        return n == null ? Double.NaN : n.doubleValue();
    }

    private void register() {
        gauge("migrator.lag", "seconds", "Now minus the source commit time of the last applied change (heartbeats keep it true when idle)",
                s -> orNaN(s.lag().seconds()));
        gauge("migrator.lag", "bytes", "Source log bytes not yet applied", s -> orNaN(s.lag().bytes()));
        gauge("migrator.lag", "events", "Change events read from the source, not yet committed on the target", s -> orNaN(s.lag().events()));
        gauge("migrator.catchup.eta", "seconds", "Time to catch up at the current closing rate (NaN when not closing)",
                s -> orNaN(s.lag().etaSeconds()));
        gauge("migrator.source.retention.headroom", "seconds", "At least how long until the source may purge log still needed "
                + "(NaN: never purged by age, or unknown)", s -> orNaN(s.lag().retentionHeadroomSeconds()));
        gauge("migrator.source.log.retained", "bytes", "Source log kept for this migration alone: the WAL a PostgreSQL replication slot "
                + "holds (NaN when the source keeps its log regardless, as MySQL does)", s -> orNaN(s.lag().retainedBytes()));
        gauge("migrator.snapshot.tables.done", null, "Tables whose copy is done", s -> s.snapshot().tablesDone());
        gauge("migrator.snapshot.tables", null, "Tables in the plan", s -> s.snapshot().tablesTotal());
        gauge("migrator.paused", null, "1 while paused through the control API", s -> s.paused() ? 1 : 0);
        gauge("migrator.degraded", null, "1 while the worker rides out an outage (a server restarting, failing over, cut off): it "
                + "reconnects for up to network.maxOutage; status says since when and why", s -> s.degraded() != null ? 1 : 0);
        gauge("migrator.reverse", null, "1 while reverse replication streams (cut over: the lag and log series then describe the "
                + "new server -> old source stream)", s -> "reverse".equals(s.direction()) ? 1 : 0);
        gauge("migrator.validation.mismatches", null, "Rows found different by the last validation", s -> s.validation().mismatches());
        gauge("migrator.validation.parity.ratio", null, "Share of compared rows found equal by the last validation (NaN: none yet)",
                s -> s.validation().parityPercent() == null ? Double.NaN : s.validation().parityPercent() / 100.0);
        for (Phase phase : Phase.values()) {
            Gauge.builder("migrator.phase", this, m -> m.status().phase() == phase ? 1 : 0).tags(tags.and("phase", phase.name()))
                    .strongReference(true)
                    .description("1 for the migration's current phase, 0 for the others").register(registry);
        }
        FunctionCounter.builder("migrator.events.applied", migration, Worker::appliedEvents).tags(tags)
                .description("Change events committed on the target").register(registry);
        FunctionCounter.builder("migrator.batches.applied", migration, m -> m.appliedBatches()).tags(tags)
                .description("Target transactions that applied changes with their checkpoint").register(registry);
        Gauge.builder("migrator.cutover.write.freeze.seconds", this, m -> m.migration.cutover()
                        .filter(r -> !r.dryRun() && r.writeFreezeMillis() > 0).map(r -> r.writeFreezeMillis() / 1000.0).orElse(Double.NaN))
                .tags(tags).strongReference(true).description("The last cutover's measured write freeze: from writes stopping on the source "
                        + "to the target open (or the source open again after an abort)").register(registry);
        discover(migration.status());
    }

    /** Registers per-table, per-kind and per-code meters the first time they appear. */
    private void discover(MigrationStatus status) {
        for (MigrationStatus.TableProgress table : status.snapshot().tables()) {
            if (tables.add(table.table())) {
                String name = table.table();
                Tags t = tags.and("table", name);
                FunctionCounter.builder("migrator.snapshot.rows.copied", migration, m -> tableRows(name, true)).tags(t)
                        .description("Rows copied by the snapshot, committed on the target").register(registry);
                Gauge.builder("migrator.snapshot.rows.estimated", this, m -> m.tableRows(name, false)).tags(t).strongReference(true)
                        .description("Rows the table is estimated to hold (exact once its copy is done)").register(registry);
            }
        }
        for (String kind : migration.retry().retriesByKind().keySet()) {
            if (retryKinds.add(kind)) {
                FunctionCounter.builder("migrator.retries", migration, m -> m.retry().retriesByKind().getOrDefault(kind, 0L))
                        .tags(tags.and("kind", kind)).description("Operations retried after a transient failure").register(registry);
            }
        }
        migration.cutover().filter(r -> !r.dryRun()).ifPresent(report -> report.steps().forEach(step -> {
            if (cutoverSteps.add(step.name())) {
                String name = step.name();
                Gauge.builder("migrator.cutover.step.seconds", this, m -> m.cutoverStep(name)).tags(tags.and("step", name)).strongReference(true)
                        .description("How long each step of the last cutover took").register(registry);
            }
        }));
        for (String code : migration.errorsByCode().keySet()) {
            if (errorCodes.add(code)) {
                FunctionCounter.builder("migrator.errors", migration, m -> m.errorsByCode().getOrDefault(code, 0L))
                        .tags(tags.and("code", code)).description("Failures that stopped the worker, by error code").register(registry);
            }
        }
    }

    private double cutoverStep(String step) {
        return migration.cutover().filter(r -> !r.dryRun()).map(r -> r.steps().stream().filter(s -> s.name().equals(step))
                .mapToLong(io.migrator.core.state.CutoverReport.Step::millis).sum() / 1000.0).orElse(Double.NaN);
    }

    private double tableRows(String table, boolean copied) {
        for (MigrationStatus.TableProgress t : status().snapshot().tables()) {
            if (t.table().equals(table)) {
                return copied ? t.rowsCopied() : t.rowsEstimated();
            }
        }
        return Double.NaN;
    }

    /** Registers meters that appeared since the last scrape (new tables, retry kinds, error codes). */
    public void refresh() {
        cachedAt = 0;
        status();
    }

    /** Refreshes, then scrapes: what the /metrics endpoint serves. */
    public String refreshThen(java.util.function.Supplier<String> scrape) {
        refresh();
        return scrape.get();
    }
}
