package io.migrator.core.error;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Bounded retries with exponential backoff for {@link RetriableException}s; anything else passes through. */
public final class Retry {
    private static final Logger LOG = LoggerFactory.getLogger(Retry.class);

    private final int attempts;
    private final Duration firstBackoff;
    private final AtomicLong retries = new AtomicLong();
    private final java.util.Map<String, AtomicLong> byKind = new java.util.concurrent.ConcurrentHashMap<>();

    public Retry(int attempts, Duration firstBackoff) {
        this.attempts = attempts;
        this.firstBackoff = firstBackoff;
    }

    public long retries() {
        return retries.get();
    }

    /** Retries so far by kind (the error code of what failed), for metrics. */
    public java.util.Map<String, Long> retriesByKind() {
        java.util.Map<String, Long> copy = new java.util.TreeMap<>();
        byKind.forEach((kind, n) -> copy.put(kind, n.get()));
        return copy;
    }

    public <T> T call(String what, Supplier<T> work) {
        long backoff = firstBackoff.toMillis();
        for (int attempt = 1; ; attempt++) {
            try {
                return work.get();
            } catch (RetriableException e) {
                if (attempt >= attempts) {
                    throw e;
                }
                retries.incrementAndGet();
                byKind.computeIfAbsent(e.code().name().toLowerCase(java.util.Locale.ROOT), k -> new AtomicLong()).incrementAndGet();
                LOG.warn("{} failed (attempt {} of {}), retrying in {} ms: {}", what, attempt, attempts, backoff, e.getMessage());
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                backoff = Math.min(backoff * 2, 30_000);
            }
        }
    }

    public void run(String what, Runnable work) {
        call(what, () -> {
            work.run();
            return null;
        });
    }
}
