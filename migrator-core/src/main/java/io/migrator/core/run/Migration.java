package io.migrator.core.run;

import io.migrator.core.apply.DdlPolicy;
import io.migrator.core.change.ChangeBatch;
import io.migrator.core.change.RowChange;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.snapshot.SnapshotCoordinator;
import io.migrator.core.spi.ChangeStream;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.spi.WorkerLease;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * One migration's worker: schema, snapshot, catch-up, streaming. Every phase change is saved on the
 * target and logged once; a restart reads the state back and carries on from the last committed
 * chunk or checkpoint.
 */
public final class Migration extends AbstractWorker {
    private static final Logger LOG = LoggerFactory.getLogger(Migration.class);
    /** Streaming is declared once the applied changes are this close to the source. */
    private static final long STREAMING_LAG_MILLIS = 2_000;

    private final SourceSession source;
    private final TargetSession target;
    private final AtomicLong lastSourceMillis = new AtomicLong();
    private final AtomicReference<String> position = new AtomicReference<>("");
    private volatile SnapshotCoordinator snapshot;
    private volatile ChangeStream stream;
    private volatile int tablesTotal;
    private volatile SourcePosition startPosition;

    // ---- what status, metrics and the dashboard read ----
    private final AtomicLong inFlightEvents = new AtomicLong();
    private final io.migrator.core.observe.Rate eventRate = new io.migrator.core.observe.Rate();
    private final io.migrator.core.observe.Rate rowRate = new io.migrator.core.observe.Rate();
    private final io.migrator.core.observe.Rate closingRate = new io.migrator.core.observe.Rate();
    private volatile List<TableDef> tables = List.of();
    private volatile List<io.migrator.core.snapshot.ChunkProgress> storedChunks = List.of();
    private volatile long snapshotStartedMillis;
    private volatile io.migrator.core.spi.SourceLogStatus logStatus;
    private volatile Thread sampler;
    private volatile MigratorException leaseLost;

    // ---- validation ----
    private record RepairTask(TableDef table, List<String> keys, java.util.concurrent.CompletableFuture<Void> done) {
    }

    private final java.util.concurrent.BlockingQueue<RepairTask> repairs = new java.util.concurrent.LinkedBlockingQueue<>();
    private volatile boolean applierRunning;
    private volatile long nextValidationMillis;

    public Migration(Plan plan, SourceSession source, TargetSession target) {
        super(plan, "paused: the copy and the applier wait; lag grows until resume");
        this.source = source;
        this.target = target;
    }

    /** The result of the last validation (the validator sets it). */
    public void validation(MigrationStatus.Validation validation) {
        this.validation = validation;
    }

    /**
     * Validates the plan's tables (or those matching {@code patterns}) against the target while the stream runs: the
     * fence is this worker's applied position, and repairs go through its applier, between batches, in order.
     */
    @Override
    public io.migrator.core.validate.ValidationReport validate(List<String> patterns, boolean repair) throws InterruptedException {
        io.migrator.core.validate.ValidationService.requireCopied(phase.get());
        return validateOnce(() -> io.migrator.core.validate.ValidationService.run(plan, source, target,
                io.migrator.core.validate.ValidationService.tables(plan, source, patterns), this::awaitApplied, this::repairInApplier,
                io.migrator.core.validate.ValidationService.options(plan, repair)));
    }

    /** True once this worker applied past {@code goal}: the validator's fence. */
    private boolean awaitApplied(SourcePosition goal, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            String applied = position.get();
            if (!applied.isEmpty() && source.reached(new SourcePosition(applied), goal)) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }

    /**
     * Repairs run on the applier thread between batches; without a running applier nothing else writes, so they apply
     * here. A repair queued just before the applier stopped is taken back and applied here too.
     */
    private void repairInApplier(TableDef table, List<String> keys) {
        RepairTask task = new RepairTask(table, keys, new java.util.concurrent.CompletableFuture<>());
        if (!applierRunning) {
            applyRepair(table, keys);
            return;
        }
        repairs.add(task);
        try {
            while (true) {
                try {
                    task.done().get(500, java.util.concurrent.TimeUnit.MILLISECONDS);
                    return;
                } catch (java.util.concurrent.TimeoutException e) {
                    if (!applierRunning && repairs.remove(task)) {
                        applyRepair(table, keys);
                        return;
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.INTERNAL, "interrupted while repairing", "validate with --repair again");
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof MigratorException m) {
                throw m;
            }
            throw new MigratorException(ErrorCode.INTERNAL, "repair failed: " + e.getCause(), "validate with --repair again", e.getCause());
        }
    }

    /**
     * Reads the source rows now and writes their images (or deletes), keeping the checkpoint where it is. Stream events
     * still to come up to the moment of this read replay older images of these rows, then newer ones: they converge to
     * the source exactly as rule 1 argues for the copy.
     */
    private void applyRepair(TableDef stale, List<String> keys) {
        TableDef table = current(stale);
        List<RowChange> changes = source.readRows(table, keys);
        String applied = position.get();
        SourcePosition at = !applied.isEmpty() ? new SourcePosition(applied) : target.checkpoint().orElse(startPosition);
        retry.run("repairing " + keys.size() + " rows of " + table.id(), () -> target.apply(changes, at, 0));
        LOG.info("repaired {} rows of {}", keys.size(), table.id());
    }

    /** On the applier thread: runs one queued repair, if any. */
    private boolean runQueuedRepair() {
        RepairTask repair = repairs.poll();
        if (repair == null) {
            return false;
        }
        try {
            applyRepair(repair.table(), repair.keys());
            repair.done().complete(null);
        } catch (RuntimeException e) {
            repair.done().completeExceptionally(e);
        }
        return true;
    }

    private final AtomicLong ddlApplied = new AtomicLong();
    private volatile long definitionsAt = -1;
    private volatile java.util.Map<TableId, TableDef> definitions = java.util.Map.of();

    /**
     * The table's definition as of now: once the stream applied DDL (ADD COLUMN) since the definitions were read, they
     * are read again, so a repair writes the new columns too. Otherwise the ones read before serve (no catalog reads per
     * repair batch).
     */
    private TableDef current(TableDef stale) {
        long seen = ddlApplied.get();
        if (seen != definitionsAt) {
            java.util.Map<TableId, TableDef> read = new java.util.HashMap<>();
            source.tables(plan.tables()).forEach(t -> read.put(t.id(), t));
            definitions = read;
            definitionsAt = seen;
        }
        return definitions.getOrDefault(stale.id(), stale);
    }

    private void maybeValidateOnSchedule() {
        Duration every = plan.validation().every();
        if (every.isZero() || phase.get() != Phase.STREAMING || validating.get() || System.currentTimeMillis() < nextValidationMillis) {
            return;
        }
        nextValidationMillis = Long.MAX_VALUE;
        Thread t = new Thread(() -> {
            MDC.put("migration", plan.name());
            try {
                io.migrator.core.validate.ValidationReport report = validate(List.of(), false);
                LOG.info("scheduled validation: {} ({} rows, {} mismatches)", report.state(), report.rowsCompared(), report.mismatchCount());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                LOG.warn("scheduled validation failed: {}", e.getMessage());
            } finally {
                nextValidationMillis = System.currentTimeMillis() + every.toMillis();
            }
        }, "scheduled-validation");
        t.setDaemon(true);
        t.start();
    }

    public long rowsCopied() {
        SnapshotCoordinator s = snapshot;
        return s != null ? s.rowsCopied() : storedChunks.stream().filter(c -> c.done()).mapToLong(c -> c.rows()).sum();
    }

    @Override
    public MigrationStatus status() {
        Phase p = phase.get();
        long now = System.currentTimeMillis();
        MigrationStatus.Snapshot snap = snapshotStatus(p);
        Double lagSeconds = lagSeconds(p, now);
        io.migrator.core.spi.SourceLogStatus log = logStatus;
        Long bytes = log == null ? null : log.bytesBehind();
        Double eta = null;
        if (bytes != null && (p == Phase.CATCH_UP || p == Phase.STREAMING)) {
            Double closing = closingRate.value();
            boolean caughtUp = bytes == 0 || lagSeconds != null && lagSeconds * 1000 < STREAMING_LAG_MILLIS;
            if (caughtUp) {
                eta = 0.0;
            } else if (closing != null && closing > 0 && !paused.get()) {
                eta = bytes / closing;
            }
        }
        Double headroom = log == null ? null : log.retentionHeadroomSeconds();
        MigrationStatus.Lag lag = new MigrationStatus.Lag(lagSeconds, inFlightEvents.get(), bytes, eta, headroom,
                log == null ? null : log.retainedBytes());
        Double events = eventRate.value();
        Double rows = rowRate.value();
        boolean ready = p == Phase.STREAMING && !paused.get() && lagSeconds != null
                && lagSeconds * 1000 < plan.cutover().maxDowntime().toMillis() / 2.0
                && !"mismatch".equals(validation.state()) && !"inconclusive".equals(validation.state());
        return new MigrationStatus(plan.name(), p, paused.get(), new MigrationStatus.Worker(true, listen, startedAt.toString()),
                lag, snap, new MigrationStatus.Applied(appliedEvents.get(), position.get(), events),
                new MigrationStatus.Throughput(rows, events), validation, ready, List.copyOf(phases), error, retry.retries(),
                Instant.ofEpochMilli(now).toString());
    }

    private Double lagSeconds(Phase p, long now) {
        long applied = lastSourceMillis.get();
        if (applied > 0) {
            return Math.max(0, now - applied) / 1000.0;
        }
        if ((p == Phase.SNAPSHOT || p == Phase.CATCH_UP) && snapshotStartedMillis > 0) {
            return Math.max(0, now - snapshotStartedMillis) / 1000.0; // nothing applied yet: behind since P0
        }
        return null;
    }

    private MigrationStatus.Snapshot snapshotStatus(Phase p) {
        SnapshotCoordinator s = snapshot;
        java.util.Map<String, List<io.migrator.core.snapshot.ChunkProgress>> stored = new java.util.HashMap<>();
        for (io.migrator.core.snapshot.ChunkProgress c : storedChunks) {
            stored.computeIfAbsent(c.table().name(), k -> new java.util.ArrayList<>()).add(c);
        }
        boolean copied = p.ordinal() > Phase.SNAPSHOT.ordinal() && p != Phase.FAILED && p != Phase.PAUSED;
        List<MigrationStatus.TableProgress> rows = new java.util.ArrayList<>();
        long copiedRows = 0;
        long estimated = 0;
        int done = 0;
        for (TableDef table : tables) {
            SnapshotCoordinator.TableCounts counts = s == null ? null : s.table(table.id());
            long tableRows;
            int chunksDone;
            int chunksTotal;
            if (counts != null) {
                tableRows = counts.rows();
                chunksDone = counts.chunksDone();
                chunksTotal = counts.chunksTotal();
            } else {
                List<io.migrator.core.snapshot.ChunkProgress> chunks = stored.getOrDefault(table.id().name(), List.of());
                tableRows = chunks.stream().filter(c -> c.done()).mapToLong(c -> c.rows()).sum();
                chunksDone = (int) chunks.stream().filter(c -> c.done()).count();
                chunksTotal = chunks.size();
            }
            boolean tableDone = copied || chunksTotal > 0 && chunksDone == chunksTotal;
            long tableEstimate = tableDone ? tableRows : Math.max(table.estimatedRows(), tableRows);
            rows.add(new MigrationStatus.TableProgress(table.id().toString(), tableRows, tableEstimate, chunksDone, chunksTotal, tableDone));
            copiedRows += tableRows;
            estimated += tableEstimate;
            done += tableDone ? 1 : 0;
        }
        return new MigrationStatus.Snapshot(done, tables.isEmpty() ? tablesTotal : tables.size(), copiedRows, estimated, rows);
    }

    /** Once a second: source log distance, rates, the history the dashboard draws. */
    private void sample() {
        long nanos = System.nanoTime();
        Phase p = phase.get();
        if (p == Phase.SNAPSHOT || p == Phase.CATCH_UP || p == Phase.STREAMING) {
            String applied = position.get();
            SourcePosition at = !applied.isEmpty() ? new SourcePosition(applied) : startPosition;
            if (at != null) {
                long neededSince = lastSourceMillis.get() > 0 ? lastSourceMillis.get() : snapshotStartedMillis;
                try {
                    io.migrator.core.spi.SourceLogStatus log = source.logStatus(at, neededSince > 0 ? neededSince : System.currentTimeMillis())
                            .orElse(null);
                    logStatus = log;
                    if (log != null) {
                        closingRate.update(-log.bytesBehind(), nanos);
                    }
                } catch (RuntimeException e) {
                    LOG.debug("could not read the source log position: {}", e.toString());
                }
            }
        }
        eventRate.update(appliedEvents.get(), nanos);
        rowRate.update(rowsCopied(), nanos);
        MigrationStatus status = status();
        io.migrator.core.spi.SourceLogStatus log = logStatus;
        history.add(new io.migrator.core.observe.History.Sample(Instant.now().getEpochSecond(), status.lag().seconds(),
                log == null ? null : log.bytesBehind(), status.throughput().eventsPerSecond(), status.throughput().rowsPerSecond()));
    }

    private void startSampler(AtomicBoolean stop) {
        Thread t = new Thread(() -> {
            MDC.put("migration", plan.name());
            while (!stop.get() && !Thread.currentThread().isInterrupted()) {
                try {
                    sample();
                } catch (RuntimeException e) {
                    LOG.debug("status sample failed: {}", e.toString());
                }
                sleep(1000);
            }
        }, "status-sampler");
        t.setDaemon(true);
        t.start();
        sampler = t;
    }

    /** Runs until {@code stop} is set or a failure; returns normally when stopped. */
    @Override
    public void run(AtomicBoolean stop) {
        MDC.put("migration", plan.name());
        WorkerLease lease;
        try {
            target.prepare();
            lease = target.claim(WorkerRecord.self(listen), lost -> {
                leaseLost = lost;
                stop.set(true);
            });
        } catch (RuntimeException e) {
            // Nothing of this run is on the target yet, and another worker may own the state there: record nothing.
            MDC.remove("migration");
            throw e instanceof MigratorException m ? m
                    : new MigratorException(ErrorCode.INTERNAL, "migration " + plan.name() + " could not start: " + e, null, e);
        }
        try {
            runClaimed(stop);
        } finally {
            lease.close(); // after a failure is saved: until then no other worker may claim the migration
            MDC.remove("migration");
        }
        MigratorException lost = leaseLost;
        if (lost != null && phase.get() != Phase.FAILED) {
            recordFailure(lost); // the other worker owns the target's state now: nothing is written there
            throw lost;
        }
    }

    private void runClaimed(AtomicBoolean stop) {
        try {
            MigrationState state = target.loadState().orElse(null);
            for (MigrationState entry : target.journal()) {
                phases.add(new MigrationStatus.PhaseEntry(entry.phase(), entry.updatedAt().toString(), entry.detail()));
                if (entry.phase() == Phase.SNAPSHOT) {
                    snapshotStartedMillis = entry.updatedAt().toEpochMilli();
                }
            }
            storedChunks = target.allChunks();
            target.lastValidation().ifPresent(r -> validation = io.migrator.core.validate.ValidationService.summary(r));
            appliedEvents.set(target.appliedEvents());
            if (state != null) {
                LOG.info("resuming migration {} in phase {}", plan.name(), state.phase());
                phase.set(state.phase() == Phase.FAILED ? resumePhase(state) : state.phase());
                startPosition = state.startPosition();
            }
            List<TableDef> tables = source.tables(plan.tables());
            this.tables = tables;
            tablesTotal = tables.size();
            startSampler(stop);
            if (state == null || phase.get() == Phase.PREFLIGHT || phase.get() == Phase.SCHEMA) {
                move(Phase.SCHEMA, null, "creating target tables");
                createSchema(tables);
                // P0: taken after the target tables exist and before any row is read (rule 1).
                startPosition = source.beginSnapshot();
                snapshotStartedMillis = System.currentTimeMillis();
                move(Phase.SNAPSHOT, startPosition, "start position " + startPosition.text());
            }
            if (phase.get() == Phase.SNAPSHOT) {
                snapshot = new SnapshotCoordinator(source, target, plan.snapshot(), retry, () -> paused.get() && !stop.get());
                boolean copied;
                try {
                    copied = snapshot.copy(tables, stop);
                } finally {
                    source.endSnapshot();
                }
                if (!copied) {
                    return;
                }
                buildIndexes(tables, stop);
                if (stop.get()) {
                    return;
                }
                move(Phase.CATCH_UP, startPosition, snapshot.rowsCopied() + " rows copied");
            }
            stream(tables, stop);
        } catch (MigratorException e) {
            fail(e);
            throw e;
        } catch (RuntimeException e) {
            fail(e);
            throw new MigratorException(ErrorCode.INTERNAL, "migration " + plan.name() + " failed: " + e, null, e);
        } finally {
            Thread t = sampler;
            if (t != null) {
                t.interrupt();
            }
        }
    }

    private Phase resumePhase(MigrationState state) {
        // A failed run resumes where its durable state says it was: the state row keeps the last good phase in detail.
        String detail = state.detail() == null ? "" : state.detail();
        for (Phase p : List.of(Phase.STREAMING, Phase.CATCH_UP, Phase.SNAPSHOT, Phase.SCHEMA)) {
            if (detail.startsWith("failed in " + p.name())) {
                return p == Phase.STREAMING ? Phase.CATCH_UP : p;
            }
        }
        return Phase.SCHEMA;
    }

    private void createSchema(List<TableDef> tables) {
        List<TableId> missing = target.missingTables(tables);
        for (TableDef table : tables) {
            if (missing.contains(table.id())) {
                target.createTable(table);
                LOG.info("created target table {}", table.id());
            } else {
                List<String> differences = target.differences(table);
                if (!differences.isEmpty()) {
                    throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "target table " + table.id()
                            + " exists but differs from the source: " + String.join("; ", differences),
                            "drop the target table so migrator creates it, or make it match the source");
                }
            }
        }
    }

    /** Secondary indexes left out for the copy are built now, several tables at once. */
    private void buildIndexes(List<TableDef> tables, AtomicBoolean stop) {
        long started = System.nanoTime();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(plan.snapshot().parallelism());
        try {
            List<java.util.concurrent.Future<?>> builds = new java.util.ArrayList<>();
            for (TableDef table : tables) {
                builds.add(pool.submit(() -> {
                    if (!stop.get()) {
                        retry.run("building the indexes of " + table.id(), () -> target.buildDeferredIndexes(table));
                    }
                }));
            }
            for (java.util.concurrent.Future<?> build : builds) {
                try {
                    build.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof MigratorException m) {
                        throw m;
                    }
                    throw new MigratorException(ErrorCode.INTERNAL, "building indexes failed: " + e.getCause(), null, e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    stop.set(true);
                    return;
                }
            }
        } finally {
            pool.shutdownNow();
        }
        LOG.info("secondary indexes built in {} ms", (System.nanoTime() - started) / 1_000_000);
    }

    private void stream(List<TableDef> tables, AtomicBoolean stop) {
        SourcePosition from = target.checkpoint().orElse(startPosition);
        if (from == null) {
            throw new MigratorException(ErrorCode.INTERNAL, "no start position recorded for " + plan.name(),
                    "the bookkeeping on the target is incomplete; start the migration afresh");
        }
        position.set(from.text());
        LOG.info("streaming changes from {}", from.text());
        String streamId = plan.name() + "-" + Integer.toHexString(startPosition == null ? 0 : startPosition.text().hashCode());
        ApplyPipeline pipeline = new ApplyPipeline(plan.name(), stop, new ApplyPipeline.Stages() {
            @Override
            public void prefetch(List<RowChange> coalesced) {
                target.prefetch(coalesced);
            }

            @Override
            public void apply(ChangeBatch batch, List<RowChange> coalesced) {
                Migration.this.apply(batch, coalesced);
            }

            @Override
            public boolean runQueuedRepair() {
                return Migration.this.runQueuedRepair();
            }

            @Override
            public boolean paused() {
                return paused.get();
            }

            @Override
            public void inFlight(long delta) {
                inFlightEvents.addAndGet(delta);
            }

            @Override
            public void applierRunning(boolean running) {
                applierRunning = running;
            }
        });
        try (ChangeStream stream = source.openStream(tables, from, streamId)) {
            this.stream = stream;
            stream.start(pipeline::submit);
            while (!stop.get()) {
                if (pipeline.failure() != null) {
                    throw pipeline.failure();
                }
                if (!stream.running()) {
                    Throwable failure = stream.failure();
                    if (failure instanceof MigratorException m) {
                        throw m;
                    }
                    throw new MigratorException(ErrorCode.INTERNAL, "the change stream stopped: "
                            + (failure == null ? "no reason given" : failure.toString()), null, failure);
                }
                if (phase.get() == Phase.CATCH_UP && lastSourceMillis.get() > 0
                        && System.currentTimeMillis() - lastSourceMillis.get() < STREAMING_LAG_MILLIS) {
                    move(Phase.STREAMING, startPosition, "caught up");
                }
                maybeValidateOnSchedule();
                sleep(100);
            }
        } finally {
            pipeline.close();
            this.stream = null;
        }
        if (pipeline.failure() != null) {
            throw pipeline.failure();
        }
    }

    private void apply(ChangeBatch batch, List<RowChange> coalesced) {
        for (String ddl : batch.ddl()) {
            java.util.Optional<String> table = DdlPolicy.table(ddl);
            if (table.isPresent() && !plan.tables().includes(plan.source().database(), table.get())) {
                LOG.debug("ignored DDL on a table outside the plan: {}", DdlPolicy.summary(ddl));
                continue;
            }
            switch (DdlPolicy.judge(ddl)) {
                case APPLY -> {
                    retry.run("applying DDL", () -> target.applyDdl(ddl));
                    ddlApplied.incrementAndGet();
                    LOG.info("applied source DDL on the target: {}", DdlPolicy.summary(ddl));
                }
                case IGNORE -> LOG.debug("ignored source statement: {}", DdlPolicy.summary(ddl));
                case REFUSE -> {
                    if (!matchedByHand(table)) {
                        throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the source ran DDL that migrator does not replay: "
                                + DdlPolicy.summary(ddl), "only additive DDL (ADD COLUMN, ADD INDEX, CREATE TABLE) and TRUNCATE are replayed: "
                                + "apply the same change to the target by hand, then restart with `migrator run`; the stream steps over this "
                                + "statement once the target's table matches the source's");
                    }
                    ddlApplied.incrementAndGet(); // the table's shape changed: definitions are read again
                    LOG.info("the target's {} already matches the source after: {} (applied by hand); the stream goes on", table.get(),
                            DdlPolicy.summary(ddl));
                }
            }
        }
        long started = System.nanoTime();
        retry.run("applying a batch of " + coalesced.size() + " changes",
                () -> target.apply(coalesced, batch.position(), batch.changes().size()));
        LOG.debug("applied {} changes ({} after coalescing) in {} ms", batch.changes().size(), coalesced.size(),
                (System.nanoTime() - started) / 1_000_000);
        appliedEvents.addAndGet(batch.changes().size());
        appliedBatches.incrementAndGet();
        if (batch.sourceMillis() > 0) {
            lastSourceMillis.accumulateAndGet(batch.sourceMillis(), Math::max);
        }
        position.set(batch.position().text());
        ChangeStream current = stream;
        if (current != null) {
            current.applied(batch.position());
        }
    }

    /** Whether the table a refused statement changed now has the same columns on the target as on the source. */
    private boolean matchedByHand(java.util.Optional<String> table) {
        if (table.isEmpty()) {
            return false;
        }
        return source.tables(plan.tables()).stream().filter(t -> t.id().name().equals(table.get())).findFirst()
                .map(t -> target.differences(t).isEmpty()).orElse(false);
    }

    private void move(Phase next, SourcePosition start, String why) {
        Phase current = phase.get();
        if (current != next && !current.canMoveTo(next) && current != Phase.PREFLIGHT) {
            throw new IllegalStateException("phase " + current + " cannot move to " + next);
        }
        Instant at = Instant.now();
        target.saveState(new MigrationState(plan.name(), next, start, at, why));
        phase.set(next);
        phases.add(new MigrationStatus.PhaseEntry(next, at.toString(), why));
        LOG.info("phase {} -> {} ({})", current, next, why);
    }

    private void fail(Exception e) {
        String detail = recordFailure(e);
        if (leaseLost != null) {
            return; // another worker owns the migration's state on the target now: write nothing there
        }
        try {
            target.saveState(new MigrationState(plan.name(), Phase.FAILED, startPosition, Instant.now(), detail));
        } catch (RuntimeException ignored) {
            // the target may be what failed; the previous state stays, and a restart resumes from it
        }
    }

}
