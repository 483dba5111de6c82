package io.migrator.core.spi;

import io.migrator.core.change.ChangeBatch;

/**
 * A source's changes in order. {@link #start} delivers batches to the handler on one thread, one at a
 * time; a handler that blocks holds the stream back, so the backlog stays in the source's log.
 */
public interface ChangeStream extends AutoCloseable {
    void start(Handler handler);

    /**
     * The target has committed everything up to {@code position} (called by the applier after each batch). A source
     * that releases its log on acknowledgement (a PostgreSQL slot) may now let the server recycle it; never earlier.
     */
    default void applied(io.migrator.core.change.SourcePosition position) {
    }

    /** The failure that stopped the stream, if it stopped by itself. */
    Throwable failure();

    boolean running();

    /**
     * Whether the stream delivers something at least every few seconds even on an idle source (a heartbeat the source
     * writes): only then does a silent stream mean a stalled connection (network.stallTimeout). Asked once started.
     */
    default boolean beats() {
        return true;
    }

    /**
     * Asked when the stream has delivered nothing for network.stallTimeout: whether the source still shows this stream's
     * connection alive and busy (PostgreSQL: its walsender decoding a large transaction, which sends nothing until it is
     * done), so the silence is work, not a broken connection. True (the default) reconnects the stream.
     */
    default boolean stalled() {
        return true;
    }

    @Override
    void close();

    @FunctionalInterface
    interface Handler {
        /** @throws Stopping the worker is stopping: the batch was not taken (the next run replays it from the checkpoint) */
        void onBatch(ChangeBatch batch) throws InterruptedException;
    }

    /**
     * The handler refused a batch because the worker is stopping. Not a failure: a stream returns without marking the
     * batch processed, and {@link #close} follows.
     */
    final class Stopping extends InterruptedException {
        private static final long serialVersionUID = 1L;

        public Stopping() {
            super("stopping");
        }
    }
}
