package io.migrator.connectors.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.change.SourcePosition;
import io.migrator.core.plan.Plan;
import io.migrator.core.run.Migration;
import io.migrator.core.spi.EngineConnector;
import io.migrator.core.spi.EngineConnectors;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/** Runs a migration in the test JVM, with waits for its phases and for the target to catch up. */
public final class MigrationHarness implements AutoCloseable {
    public final SourceSession source;
    public final TargetSession target;
    public final Migration migration;
    private final AtomicBoolean stop = new AtomicBoolean();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Thread worker;

    public MigrationHarness(Plan plan) {
        this(plan, false);
    }

    /** A worker that, once cut over, streams the target's changes back into the old source, as `migrator run` does. */
    public static MigrationHarness withReverse(Plan plan) {
        return new MigrationHarness(plan, true);
    }

    private MigrationHarness(Plan plan, boolean reverse) {
        EngineConnector connector = EngineConnectors.discover().forEngine(plan.source().engine());
        source = connector.openSource(plan);
        target = connector.openTarget(plan);
        migration = new Migration(plan, source, target, reverse ? io.migrator.core.run.Migrations.discover()::openReverse : null);
        worker = new Thread(() -> {
            try {
                migration.run(stop);
            } catch (Throwable e) {
                failure.set(e);
            }
        }, "migration");
        worker.start();
    }

    /** Runs the plan's migration until it streams and has caught up with the source, then stops its worker. */
    public static void streamOnce(Plan plan) throws InterruptedException {
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            run.awaitCaughtUp();
        }
    }

    /** Serves this migration's metrics, status API and dashboard on a free loopback port, as `migrator run` does. */
    public io.migrator.core.observe.ControlServer serve() {
        var registry = new io.micrometer.prometheusmetrics.PrometheusMeterRegistry(io.micrometer.prometheusmetrics.PrometheusConfig.DEFAULT);
        var metrics = io.migrator.core.observe.MigrationMetrics.bind(registry, migration);
        return io.migrator.core.observe.ControlServer.start(new Plan.Control("127.0.0.1", 0), migration,
                () -> metrics.refreshThen(registry::scrape));
    }

    public Throwable failure() {
        return failure.get();
    }

    public void awaitPhase(Phase phase) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 120_000;
        while (migration.status().phase() != phase && System.currentTimeMillis() < deadline && failure.get() == null) {
            Thread.sleep(100);
        }
        assertThat(failure.get()).as("migration failure").isNull();
        assertThat(migration.status().phase()).isEqualTo(phase);
    }

    /** Waits until the applied position reaches the source's current binlog position. */
    public void awaitCaughtUp() throws InterruptedException {
        SourcePosition goal = source.currentPosition();
        long deadline = System.currentTimeMillis() + 120_000;
        while (System.currentTimeMillis() < deadline) {
            assertThat(failure.get()).as("migration failure").isNull();
            MigrationStatus status = migration.status();
            if (!status.applied().position().isEmpty() && (status.phase() == Phase.STREAMING || status.phase() == Phase.CATCH_UP)
                    && source.reached(new SourcePosition(status.applied().position()), goal)) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the target did not catch up with " + goal + ": " + migration.status());
    }

    /** Waits for the migration to stop by itself with a failure, and returns it. */
    public Throwable awaitFailure() throws InterruptedException {
        worker.join(120_000);
        assertThat(worker.isAlive()).as("the migration stopped").isFalse();
        return failure.get();
    }

    @Override
    public void close() throws InterruptedException {
        stop.set(true);
        worker.join(60_000);
        source.close();
        target.close();
    }
}
