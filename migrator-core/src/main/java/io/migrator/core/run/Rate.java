package io.migrator.core.run;

/**
 * A per-second rate of a growing counter, smoothed over a few samples (exponentially weighted, about five
 * seconds), so one slow second does not make the ETA jump. Not thread-safe: one sampler thread feeds it.
 */
public final class Rate {
    private static final double ALPHA = 0.3;
    private long lastValue;
    private long lastNanos;
    private Double rate;

    /** Feeds the counter's current value; returns the smoothed rate per second (null until two samples). */
    public Double update(long value, long nanos) {
        if (lastNanos != 0 && nanos > lastNanos) {
            double instant = (value - lastValue) * 1e9 / (nanos - lastNanos);
            rate = rate == null ? instant : ALPHA * instant + (1 - ALPHA) * rate;
        }
        lastValue = value;
        lastNanos = nanos;
        return rate;
    }

    public Double value() {
        return rate;
    }
}
