package io.migrator.connectors.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Plan;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The network between the worker and a real source and target, broken on purpose by a {@link FaultProxy} on each side
 * while a writer inserts, updates and deletes on the source: the target cut off (a restart, a failover) and made
 * half-open (nothing comes back, no error either) past the read timeout, the source made half-open past the stall timeout
 * and cut off. The worker shows each outage as {@code degraded} and rides it out; the target ends equal to the source,
 * compared row by row on both servers, not by the validator. An outage longer than {@code network.maxOutage} stops the
 * worker with that said, and the next run resumes from the checkpoint with nothing lost. Each engine's test supplies its
 * connections, its plan through the proxies and its SQL.
 */
public abstract class NetworkFaultScenario {
    protected final FaultProxy sourceProxy;
    protected final FaultProxy targetProxy;

    protected NetworkFaultScenario(FaultProxy sourceProxy, FaultProxy targetProxy) {
        this.sourceProxy = sourceProxy;
        this.targetProxy = targetProxy;
    }

    /** A plan from the source to the target through the proxies, with this {@code network:} section. */
    protected abstract Plan plan(String network);

    /** A connection straight to the source (not through the proxy). */
    protected abstract Connection source() throws SQLException;

    /** A connection straight to the target (not through the proxy). */
    protected abstract Connection target() throws SQLException;

    /** Every row of {@code orders} in key order, as the engine prints it. */
    protected abstract List<?> rows(Connection c) throws SQLException;

    /** An UPDATE of one order by id (one parameter) that changes its note and counter. */
    protected abstract String updateSql();

    /** The whole scenario; the proxies must be up and the source's {@code orders} table made and seeded (ids 1 to 3000). */
    public final void run() throws Exception {
        Plan plan = plan("{readTimeout: 3s, stallTimeout: 5s, maxOutage: 2m}");
        Writer writer = new Writer();
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            writer.start();

            // the target goes away (a restart, a failover): connections reset, new ones refused
            long before = targetProxy.accepted();
            targetProxy.cut();
            MigrationStatus.Degraded seen = awaitDegraded(run);
            assertThat(seen.lastError()).as("status says what fails").isNotBlank();
            Thread.sleep(6_000);
            targetProxy.restore();
            awaitHealthy(run);
            assertThat(targetProxy.accepted()).as("the worker reconnected to the target").isGreaterThan(before);

            // the target hangs: connections stay open and nothing comes back (no error ever arrives) past the read timeout
            targetProxy.stall();
            awaitDegraded(run);
            Thread.sleep(4_000);
            targetProxy.restore();
            awaitHealthy(run);

            // the source's connections go half-open under the stream: nothing arrives, no error either, until the stall
            // detector reconnects the stream from the checkpoint
            awaitSame(writer, "before the source stalled");
            before = sourceProxy.accepted();
            sourceProxy.stall();
            MigrationStatus.Degraded stalled = awaitDegraded(run);
            assertThat(stalled.lastError()).as("the stall detector noticed").contains("delivered nothing");
            sourceProxy.restore();
            awaitSame(writer, "after the source stalled");
            assertThat(sourceProxy.accepted()).as("the stream reconnected to the source").isGreaterThan(before);

            // the source goes away under the stream (a restart, a failover)
            sourceProxy.cut();
            Thread.sleep(6_000);
            sourceProxy.restore();
            awaitSame(writer, "after the source was cut");
            assertThat(run.failure()).isNull();
            writer.stop();
            awaitSame(writer, "in the end");
            assertThat(run.migration.status().phase()).isEqualTo(Phase.STREAMING);
        } finally {
            writer.stop();
        }
        assertThat(writer.failure.get()).isNull();
        assertThat(writer.done.get()).as("writes made during the faults").isGreaterThan(100);

        // an outage longer than network.maxOutage stops the worker, saying so; the next run resumes with nothing lost
        Plan impatient = plan("{readTimeout: 3s, stallTimeout: 5s, maxOutage: 4s}");
        try (MigrationHarness run = new MigrationHarness(impatient)) {
            run.awaitPhase(Phase.STREAMING);
            run.awaitCaughtUp(); // started up and streaming (the phase read back says STREAMING at once)
            targetProxy.cut();
            try (Connection c = source(); Statement st = c.createStatement()) {
                st.execute("INSERT INTO orders VALUES (900001, 'during-the-outage', 0)");
            }
            Throwable failure = run.awaitFailure();
            assertThat(failure).as("the worker gives up").isNotNull();
            assertThat(failure.getMessage()).contains("network.maxOutage 4 s");
        }
        targetProxy.restore();
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            awaitSame(writer, "after the worker stopped on the outage and ran again");
        }
        assertThat(notes(target())).contains("during-the-outage");
    }

    /**
     * The same faults while the copy runs (throttled so it lasts): the target cut off and made half-open in the middle of
     * chunks, then the source cut under the chunk reads. A chunk commits with its done-mark, so one cut off is copied again
     * whole; the copy goes on, the stream follows, and the target ends equal to the source. The source's {@code orders} must
     * hold ids 1 to 3000 and the target must be empty.
     */
    public final void runDuringCopy() throws Exception {
        Plan plan = plan("{readTimeout: 3s, stallTimeout: 5s, maxOutage: 2m}\nsnapshot: {parallelism: 2, chunkRows: 100, maxRowsPerSecond: 150}");
        Writer writer = new Writer();
        try (MigrationHarness run = new MigrationHarness(plan)) {
            long deadline = System.currentTimeMillis() + 60_000;
            while (!(run.migration.status().phase() == Phase.SNAPSHOT && run.migration.status().snapshot().rowsCopied() > 0)
                    && System.currentTimeMillis() < deadline) {
                assertThat(run.failure()).as("the worker starts").isNull();
                Thread.sleep(50);
            }
            writer.start();

            targetProxy.cut();
            awaitDegraded(run);
            assertThat(run.migration.status().phase()).as("the target cut lands in the copy").isEqualTo(Phase.SNAPSHOT);
            Thread.sleep(3_000);
            targetProxy.restore();
            awaitHealthy(run);

            targetProxy.stall();
            awaitDegraded(run);
            assertThat(run.migration.status().phase()).as("the target stall lands in the copy").isEqualTo(Phase.SNAPSHOT);
            Thread.sleep(2_000);
            targetProxy.restore();
            awaitHealthy(run);

            long copied = run.migration.status().snapshot().rowsCopied();
            assertThat(run.migration.status().phase()).as("the source cut lands in the copy").isEqualTo(Phase.SNAPSHOT);
            sourceProxy.cut();
            Thread.sleep(3_000);
            sourceProxy.restore();
            awaitHealthy(run);
            writer.hold.set(true); // the faults are over: the copy ends sooner without new rows to chase
            run.awaitPhase(Phase.STREAMING);
            writer.hold.set(false);
            assertThat(run.migration.status().snapshot().rowsCopied()).as("the copy went on after the source cut").isGreaterThan(copied);
            awaitSame(writer, "after faults during the copy");
            assertThat(run.failure()).isNull();
        } finally {
            writer.stop();
        }
        assertThat(writer.failure.get()).isNull();
        assertThat(writer.done.get()).as("writes made during the copy").isGreaterThan(100);
    }

    private static MigrationStatus.Degraded awaitDegraded(MigrationHarness run) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 45_000;
        while (System.currentTimeMillis() < deadline) {
            MigrationStatus.Degraded d = run.migration.status().degraded();
            if (d != null) {
                return d;
            }
            assertThat(run.failure()).as("the worker rides the outage out").isNull();
            Thread.sleep(50);
        }
        throw new AssertionError("status never showed the outage: " + run.migration.status());
    }

    private static void awaitHealthy(MigrationHarness run) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        while (run.migration.status().degraded() != null && System.currentTimeMillis() < deadline) {
            assertThat(run.failure()).as("the worker rides the outage out").isNull();
            Thread.sleep(100);
        }
        assertThat(run.migration.status().degraded()).as("recovered").isNull();
    }

    /** Until the target holds exactly the source's rows (read from both servers; the writer held meanwhile), at most a minute. */
    private void awaitSame(Writer writer, String when) throws Exception {
        writer.hold.set(true); // under a running writer the two are equal only between its writes
        try {
            Thread.sleep(100);
            long deadline = System.currentTimeMillis() + 60_000;
            List<Object> s = List.of();
            List<Object> t = List.of();
            while (System.currentTimeMillis() < deadline) {
                try (Connection sc = source(); Connection tc = target()) {
                    s = List.copyOf(rows(sc));
                    t = List.copyOf(rows(tc));
                }
                if (s.equals(t)) {
                    return;
                }
                Thread.sleep(200);
            }
            assertThat(t).as("the target against the source " + when).containsExactlyElementsOf(s);
        } finally {
            writer.hold.set(false);
        }
    }

    private static java.util.Set<String> notes(Connection c) throws SQLException {
        java.util.Set<String> notes = new java.util.HashSet<>();
        try (c; Statement st = c.createStatement(); var rs = st.executeQuery("SELECT note FROM orders")) {
            while (rs.next()) {
                notes.add(rs.getString(1));
            }
        }
        return notes;
    }

    /** Inserts, updates and deletes on the source (straight, not through a proxy) every few milliseconds. */
    private final class Writer {
        final AtomicInteger done = new AtomicInteger();
        final AtomicBoolean stopped = new AtomicBoolean();
        final AtomicBoolean hold = new AtomicBoolean();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        private Thread thread;

        void start() {
            thread = new Thread(() -> {
                try (Connection c = source();
                     PreparedStatement insert = c.prepareStatement("INSERT INTO orders VALUES (?, ?, 0)");
                     PreparedStatement update = c.prepareStatement(updateSql());
                     PreparedStatement delete = c.prepareStatement("DELETE FROM orders WHERE id = ?")) {
                    long id = 100_000;
                    java.util.Random random = new java.util.Random(7);
                    while (!stopped.get()) {
                        if (hold.get()) {
                            Thread.sleep(20);
                            continue;
                        }
                        insert.setLong(1, ++id);
                        insert.setString(2, "w-" + id);
                        insert.executeUpdate();
                        update.setLong(1, 1 + random.nextInt(3000));
                        update.executeUpdate();
                        if (id % 5 == 0) {
                            delete.setLong(1, id - 3);
                            delete.executeUpdate();
                        }
                        done.incrementAndGet();
                        Thread.sleep(5);
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            }, "fault-writer");
            thread.start();
        }

        void stop() throws InterruptedException {
            stopped.set(true);
            if (thread != null) {
                thread.join(10_000);
            }
        }
    }
}
