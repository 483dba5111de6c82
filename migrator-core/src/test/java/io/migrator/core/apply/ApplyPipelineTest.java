package io.migrator.core.apply;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.change.ChangeBatch;
import io.migrator.core.change.RowChange;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.spi.ChangeStream;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * How the pipeline refuses a batch while the worker stops. The streams return quietly on {@link ChangeStream.Stopping}
 * (nothing marked processed, nothing logged as an engine failure) and fail on anything else, so a stop must always
 * arrive as {@code Stopping}, and an interrupt that is not a stop must not.
 */
class ApplyPipelineTest {
    private static final class Recorder implements ApplyPipeline.Applier {
        final List<SourcePosition> applied = new CopyOnWriteArrayList<>();
        final CountDownLatch applying = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        @Override
        public void prefetch(List<RowChange> coalesced) {
        }

        @Override
        public void apply(ChangeBatch batch, List<RowChange> coalesced) {
            applying.countDown();
            try {
                release.await(10, TimeUnit.SECONDS); // the applier is busy with this batch until released
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            applied.add(batch.position());
        }
    }

    private static ApplyPipeline pipeline(AtomicBoolean stop, Recorder stages) {
        return new ApplyPipeline("t", stop, stages, new RepairQueue((table, keys) -> {
            throw new AssertionError("no repair was asked for");
        }), () -> false);
    }

    private static ChangeBatch batch(String position) {
        return new ChangeBatch(List.of(), new SourcePosition(position), 0, List.of());
    }

    /** Submits from a thread of its own, as the engine's polling thread does; the future holds what submit threw. */
    private static CompletableFuture<Throwable> submitting(ApplyPipeline pipeline, ChangeBatch batch, Thread[] thread) {
        CompletableFuture<Throwable> thrown = new CompletableFuture<>();
        thread[0] = new Thread(() -> {
            try {
                pipeline.submit(batch);
                thrown.complete(null);
            } catch (Throwable t) {
                thrown.complete(t);
            }
        });
        thread[0].start();
        return thrown;
    }

    @Test
    void aBatchWaitingBehindTheApplierIsRefusedWithStoppingWhenTheWorkerStops() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        Recorder stages = new Recorder();
        ApplyPipeline pipeline = pipeline(stop, stages);
        pipeline.submit(batch("1"));
        assertThat(stages.applying.await(5, TimeUnit.SECONDS)).isTrue();
        pipeline.submit(batch("2")); // queued behind batch 1
        Thread[] thread = new Thread[1];
        CompletableFuture<Throwable> third = submitting(pipeline, batch("3"), thread); // waits: the queue is full
        Thread.sleep(200);
        assertThat(third).isNotDone();

        stop.set(true);
        assertThat(third.get(5, TimeUnit.SECONDS)).isInstanceOf(ChangeStream.Stopping.class);
        assertThat(catchSubmit(pipeline, batch("4"))).as("after the stop, at once").isInstanceOf(ChangeStream.Stopping.class);
        stages.release.countDown();
        pipeline.close();
        assertThat(stages.applied).as("the batch in flight finishes; the refused ones are not applied")
                .doesNotContain(new SourcePosition("3"), new SourcePosition("4")).contains(new SourcePosition("1"));
    }

    @Test
    void anInterruptDuringTheStopIsTheStopButAnInterruptAloneIsNot() throws Exception {
        for (boolean stopping : new boolean[] {true, false}) {
            AtomicBoolean stop = new AtomicBoolean();
            Recorder stages = new Recorder();
            ApplyPipeline pipeline = pipeline(stop, stages);
            pipeline.submit(batch("1"));
            assertThat(stages.applying.await(5, TimeUnit.SECONDS)).isTrue();
            pipeline.submit(batch("2"));
            Thread[] thread = new Thread[1];
            CompletableFuture<Throwable> third = submitting(pipeline, batch("3"), thread);
            Thread.sleep(200);
            if (stopping) {
                // the engine interrupts its polling thread after the worker set the stop flag; it may land before the
                // pipeline's own check sees the flag, which is what this reproduces
                stop.set(true);
            }
            thread[0].interrupt();
            Throwable thrown = third.get(5, TimeUnit.SECONDS);
            if (stopping) {
                assertThat(thrown).isInstanceOf(ChangeStream.Stopping.class);
            } else {
                assertThat(thrown).isInstanceOf(InterruptedException.class).isNotInstanceOf(ChangeStream.Stopping.class);
            }
            stages.release.countDown();
            pipeline.close();
        }
    }

    private static Throwable catchSubmit(ApplyPipeline pipeline, ChangeBatch batch) {
        try {
            pipeline.submit(batch);
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    /**
     * The cutover's hold past its point of no return: awaitHeld returns only once the batch being applied is done, and
     * no batch is applied after it, however many the stream still delivers.
     */
    @Test
    void aHoldWaitsForTheBatchInFlightAndNothingIsAppliedAfterIt() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicBoolean hold = new AtomicBoolean();
        Recorder stages = new Recorder();
        ApplyPipeline pipeline = new ApplyPipeline("t", stop, stages, new RepairQueue((table, keys) -> {
            throw new AssertionError("no repair was asked for");
        }), hold::get);
        pipeline.submit(batch("1"));
        assertThat(stages.applying.await(5, TimeUnit.SECONDS)).isTrue(); // batch 1 is being applied
        pipeline.submit(batch("2")); // read ahead, queued
        hold.set(true);
        assertThat(pipeline.awaitHeld(java.time.Duration.ofMillis(300))).as("not held while batch 1 is applied").isFalse();
        stages.release.countDown();
        assertThat(pipeline.awaitHeld(java.time.Duration.ofSeconds(5))).as("held once batch 1 is done").isTrue();
        Thread.sleep(200);
        assertThat(stages.applied).as("batch 2, delivered before the hold, is not applied after it").containsExactly(new SourcePosition("1"));
        stop.set(true);
        pipeline.close();
    }

    /**
     * The stall detector's measure: nothing counts before the stream's first delivery (its start-up is no stall), nor while a
     * batch is applied (a slow target is the applier's retries); after that, the time since the last batch.
     */
    @Test
    void silenceCountsOnlyOnceTheStreamDeliveredAndTheApplierWaits() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        Recorder stages = new Recorder();
        ApplyPipeline pipeline = pipeline(stop, stages);
        Thread.sleep(300);
        assertThat(pipeline.silentMillis()).as("nothing delivered yet").isZero();
        pipeline.submit(batch("1"));
        assertThat(stages.applying.await(5, TimeUnit.SECONDS)).isTrue();
        Thread.sleep(300);
        assertThat(pipeline.silentMillis()).as("a batch is being applied").isZero();
        stages.release.countDown();
        long deadline = System.currentTimeMillis() + 5_000;
        while (stages.applied.isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(10);
        }
        Thread.sleep(300);
        assertThat(pipeline.silentMillis()).as("idle since the batch was applied").isBetween(250L, 5_000L);
        pipeline.submit(batch("2"));
        Thread.sleep(50);
        assertThat(pipeline.silentMillis()).as("a delivery resets it").isLessThan(250L);
        stop.set(true);
        pipeline.close();
    }

    /**
     * A stream started again must never race an old batch to the target: close() returns only once the applier thread has
     * ended, the batch it was applying finished (committed whole or not at all), nothing applied after.
     */
    @Test
    void closeReturnsOnlyOnceTheApplierHasEnded() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        Recorder stages = new Recorder();
        ApplyPipeline pipeline = pipeline(stop, stages);
        pipeline.submit(batch("1"));
        assertThat(stages.applying.await(5, TimeUnit.SECONDS)).isTrue();
        pipeline.close(); // interrupts the applier's wait in apply(): it finishes the batch and ends
        assertThat(stages.applied).as("the batch in flight ended before close returned").containsExactly(new SourcePosition("1"));
        Thread.sleep(200);
        assertThat(stages.applied).as("nothing after close").containsExactly(new SourcePosition("1"));
    }
}
