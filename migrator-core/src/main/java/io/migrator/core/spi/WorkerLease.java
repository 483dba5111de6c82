package io.migrator.core.spi;

/**
 * A worker's exclusive claim on its migration, held on the target for as long as the worker runs (one applier per
 * migration: a second one would overwrite newer rows with older changes). Closing it releases the claim and removes
 * the worker's registration.
 */
public interface WorkerLease extends AutoCloseable {
    /** For targets that keep no claim (tests that drive a migration directly). */
    WorkerLease NONE = () -> {
    };

    @Override
    void close();

    /** Starts the daemon thread that keeps a claim (renews it, or claims it again). */
    static Thread keep(Runnable loop) {
        Thread t = new Thread(loop, "migrator-claim");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Stops a {@link #keep} thread: interrupts it and waits for it to end. */
    static void stop(Thread keeper) {
        if (keeper == null) {
            return;
        }
        keeper.interrupt();
        try {
            keeper.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
