package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.spi.EngineConnectors;
import io.migrator.core.spi.SourceSession;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The cutover's `lock-tables` freeze seam on a real MariaDB source: while frozen no write to the plan's tables is
 * acknowledged and the position read inside the freeze stays put; after the unfreeze the queued writes go through. A
 * transaction holding a table makes the freeze give up within its wait, and the source stays writable.
 */
@ExtendWith(SandboxExtension.class)
class MariaDbFreezeIT {
    private MariaDbFixture fixture;

    @AfterEach
    void drop() {
        if (fixture != null) {
            fixture.drop();
        }
    }

    private SourceSession source(Plan plan) {
        return EngineConnectors.discover().forEngine(plan.source().engine()).openSource(plan);
    }

    @Test
    void noWriteIsAcknowledgedWhileFrozenAndTheQueuedOnesGoThroughAfter(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "freeze");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(20))");
        }
        Plan plan = fixture.plan("");
        List<Long> acknowledged = new CopyOnWriteArrayList<>(); // nanoTime of each acknowledged insert
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread writer = new Thread(() -> {
            try (Connection c = fixture.source(); PreparedStatement ps = c.prepareStatement("INSERT INTO orders (note) VALUES ('w')")) {
                while (!stop.get()) {
                    ps.executeUpdate();
                    acknowledged.add(System.nanoTime());
                    Thread.sleep(5);
                }
            } catch (Exception e) {
                failed.set(e);
            }
        }, "writer");
        try (SourceSession source = source(plan)) {
            assertThatThrownBy(source::positionInFreeze).isInstanceOf(MigratorException.class).hasMessageContaining("not frozen");
            writer.start();
            Thread.sleep(300);
            source.freezeWrites(Duration.ofSeconds(1));
            long frozenAt = System.nanoTime();
            SourcePosition fence = source.positionInFreeze(); // and the fence marker, written after it
            SourcePosition afterMarker = source.currentPosition();
            assertThat(source.reached(afterMarker, fence)).isTrue();
            assertThat(afterMarker).as("the fence marker is an event past the fence").isNotEqualTo(fence);
            int before = acknowledged.size();
            Thread.sleep(700);
            assertThat(source.currentPosition()).as("nothing committed on the source while frozen").isEqualTo(afterMarker);
            long unfreezingAt = System.nanoTime();
            source.unfreezeWrites();
            source.unfreezeWrites(); // idempotent
            Thread.sleep(300);
            stop.set(true);
            writer.join(10_000);
            assertThat(failed.get()).as("the writer waited, it did not fail").isNull();
            // a write committed just before the lock may be recorded a moment after the freeze returned: 100 ms of margin
            long margin = 100_000_000L;
            assertThat(acknowledged.stream().filter(t -> t > frozenAt + margin && t < unfreezingAt)).as("no write acknowledged while frozen")
                    .isEmpty();
            assertThat(acknowledged.size()).as("the queued write and the later ones went through").isGreaterThan(before + 5);
            assertThat(source.reached(source.currentPosition(), fence)).isTrue();
        }
    }

    @Test
    void aTransactionHoldingATableMakesTheFreezeGiveUpAndTheSourceStaysWritable(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "freezelong");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(20))");
            st.execute("INSERT INTO orders VALUES (1, 'a')");
        }
        Plan plan = fixture.plan("");
        try (Connection longOne = fixture.source(); SourceSession source = source(plan)) {
            longOne.setAutoCommit(false);
            try (Statement st = longOne.createStatement()) {
                st.execute("UPDATE orders SET note = 'open' WHERE id = 1"); // not committed: it holds the table
            }
            long started = System.nanoTime();
            assertThatThrownBy(() -> source.freezeWrites(Duration.ofSeconds(1)))
                    .isInstanceOfSatisfying(MigratorException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TIMED_OUT))
                    .hasMessageContaining("could not be locked within 1 s").hasMessageContaining("stays writable");
            assertThat((System.nanoTime() - started) / 1_000_000).as("gave up within its wait and a margin").isLessThan(5_000);
            longOne.rollback();
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("INSERT INTO orders VALUES (2, 'after')"); // writable: the failed freeze holds nothing
            }
            assertThatThrownBy(source::positionInFreeze).hasMessageContaining("not frozen");
        }
    }
}
