package io.migrator.core.cutover;

import io.migrator.core.state.Phase;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The journal as the runbook writes it. The step entries ("step X started/done") go to the target in order on their
 * own thread, off the freeze's path: they say where a cutover was, nothing recovery reads. The entries recovery
 * depends on — the phase moves, the point of no return — are written after every step entry before them, and
 * synchronously: the cutover goes on only once the target holds them.
 */
final class CutoverJournal {
    private static final Logger LOG = LoggerFactory.getLogger(CutoverJournal.class);

    private final Runbook.Host host;
    private final java.util.concurrent.ExecutorService writer = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "cutover-journal");
        t.setDaemon(true);
        return t;
    });
    private volatile java.util.concurrent.Future<?> last;

    CutoverJournal(Runbook.Host host) {
        this.host = host;
    }

    void async(String detail) {
        last = writer.submit(() -> {
            try {
                host.journal(detail);
            } catch (RuntimeException e) {
                LOG.warn("could not journal '{}': {}", detail, e.getMessage());
            }
        });
    }

    /** Until every step entry queued so far is on the target (or failed, which was logged). */
    void flush() {
        java.util.concurrent.Future<?> f = last;
        if (f == null) {
            return;
        }
        try {
            f.get(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            LOG.warn("the cutover's step entries were not all journaled: {}", e.toString());
        }
    }

    void sync(String detail) {
        flush();
        host.journal(detail);
    }

    void move(Phase next, String why) {
        flush();
        host.move(next, why);
    }

    /**
     * The move back to STREAMING after an aborted cutover, made on a thread of its own and waited for at most {@code wait}
     * (the target may be what failed): then retried every second for {@code maxOutage} (the worker's own outage limit),
     * once the attempt in flight has failed, so two moves never run at once.
     */
    void moveAfterAbort(String aborted, java.time.Duration wait, java.time.Duration maxOutage) {
        java.util.concurrent.CompletableFuture<Void> first = new java.util.concurrent.CompletableFuture<>();
        Thread attempt = new Thread(() -> {
            try {
                move(Phase.STREAMING, aborted);
                first.complete(null);
            } catch (RuntimeException e) {
                first.completeExceptionally(e);
            }
        }, "cutover-abort-journal");
        attempt.setDaemon(true);
        attempt.start();
        try {
            first.get(wait.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            LOG.warn("could not journal the abort yet ({}); trying again until the target answers",
                    e instanceof java.util.concurrent.ExecutionException ? e.getCause().getMessage() : "the target did not answer within "
                            + wait.toMillis() + " ms");
        }
        Thread t = new Thread(() -> {
            long deadline = System.nanoTime() + maxOutage.toNanos();
            try {
                first.join();
                LOG.info("the cutover's abort is journaled: the migration streams again");
                return;
            } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
                LOG.debug("journaling the abort failed: {}", e.getMessage());
            }
            while (System.nanoTime() < deadline) {
                try {
                    Thread.sleep(1_000);
                    move(Phase.STREAMING, aborted);
                    LOG.info("the cutover's abort is journaled: the migration streams again");
                    return;
                } catch (InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    LOG.debug("journaling the abort failed again: {}", e.getMessage());
                }
            }
            LOG.error("the cutover's abort could not be journaled within network.maxOutage; the restarted worker undoes the cutover");
        }, "cutover-abort-journal-retry");
        t.setDaemon(true);
        t.start();
    }
}
