package io.migrator.core.spi;

import io.migrator.core.change.SourcePosition;
import java.time.Duration;

/**
 * How the validator knows the target has applied everything the source had at a moment: a running worker's applied
 * position passing the source position read then. Without a worker nothing is in flight towards the target, so a
 * second read is already fenced.
 */
@FunctionalInterface
public interface Fence {
    /** Waits until the target applied past {@code sourcePosition}; false when the timeout passed first. */
    boolean awaitApplied(SourcePosition sourcePosition, Duration timeout) throws InterruptedException;

    Fence NOTHING_IN_FLIGHT = (position, timeout) -> true;
}
