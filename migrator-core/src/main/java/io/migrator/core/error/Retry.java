package io.migrator.core.error;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Retries of {@link RetriableException}s (a dropped connection, a server restarting, a failover) with exponential backoff
 * from {@code firstBackoff} to 30 s, for as long as an outage may last: {@code maxOutage} from its first failure, and never
 * past the source's retention headroom (a position the source no longer keeps cannot be resumed however long one waits).
 * While one lasts, {@link #outage()} says since when, what fails and why: status shows it as {@code degraded}. Anything
 * else passes through. One outage spans every operation that fails in it; the first success ends it.
 */
public final class Retry {
    private static final Logger LOG = LoggerFactory.getLogger(Retry.class);
    private static final long MAX_BACKOFF_MILLIS = 30_000;

    /** An outage in progress: since when, what failed first and last, how many attempts failed, the last error. */
    public record Outage(Instant since, String what, long attempts, String lastError, Duration maxOutage) {
    }

    private final Supplier<Duration> maxOutage;
    private final Duration firstBackoff;
    private final Supplier<Double> headroomSeconds;
    private final AtomicLong retries = new AtomicLong();
    private final java.util.Map<String, AtomicLong> byKind = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile Outage outage;

    /**
     * @param maxOutage       how long an outage is waited out, from its first failure
     * @param headroomSeconds the source's retention headroom now (null: unknown or unlimited)
     */
    public Retry(Supplier<Duration> maxOutage, Duration firstBackoff, Supplier<Double> headroomSeconds) {
        this.maxOutage = maxOutage;
        this.firstBackoff = firstBackoff;
        this.headroomSeconds = headroomSeconds;
    }

    public Retry(Duration maxOutage, Duration firstBackoff) {
        this(() -> maxOutage, firstBackoff, () -> null);
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

    /** The outage in progress, or null when the last attempt of everything succeeded. */
    public Outage outage() {
        return outage;
    }

    public <T> T call(String what, Supplier<T> work) {
        long backoff = firstBackoff.toMillis();
        Instant started = null;
        while (true) {
            try {
                T result = work.get();
                recovered();
                return result;
            } catch (RetriableException e) {
                if (Thread.currentThread().isInterrupted()) {
                    throw e; // the caller is stopping: no more attempts
                }
                started = started == null ? Instant.now() : started;
                long wait = failed(what, e, backoff, started);
                try {
                    Thread.sleep(wait);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                backoff = Math.min(backoff * 2, MAX_BACKOFF_MILLIS);
            }
        }
    }

    public void run(String what, Runnable work) {
        call(what, () -> {
            work.run();
            return null;
        });
    }

    /**
     * A failure of {@code what} in an outage (a stream that reconnects by itself reports its failures here): noted, and
     * {@code backoff} (ms) returned to wait before the next attempt, or {@code e} thrown, with how long the outage lasted,
     * once it has lasted {@code maxOutage} or the source's retention headroom is spent.
     */
    public long failed(String what, MigratorException e, long backoff) {
        return failed(what, e, backoff, null);
    }

    /** As above; {@code started}: when this operation first failed (others succeeding meanwhile do not renew its time). */
    public synchronized long failed(String what, MigratorException e, long backoff, Instant started) {
        Instant now = Instant.now();
        Outage current = outage;
        Duration limit = maxOutage.get();
        Instant since = current == null ? now : current.since();
        Instant first = started != null && started.isBefore(since) ? started : since;
        Duration lasted = Duration.between(first, now);
        Double headroom = headroomSeconds.get();
        boolean retained = headroom == null || headroom > (backoff / 1000.0) + 60;
        if (lasted.plusMillis(backoff).compareTo(limit) > 0 || !retained) {
            outage = null;
            String why = !retained ? "the source may purge the log the migration needs within " + Math.round(headroom) + " s"
                    : "network.maxOutage " + limit.toSeconds() + " s";
            LOG.error("{} failed for {} s ({}): giving up: {}", what, lasted.toSeconds(), why, e.getMessage());
            throw new MigratorException(e.code(), e.getMessage() + " (still failing after " + lasted.toSeconds() + " s of retries: "
                    + why + ")", (e.remedy() == null ? "" : e.remedy() + "; ") + "once the server answers, `migrator run` resumes from "
                    + "the checkpoint" + (retained ? " (raise network.maxOutage to wait longer)" : ""), e);
        }
        retries.incrementAndGet();
        byKind.computeIfAbsent(e.code().name().toLowerCase(java.util.Locale.ROOT), k -> new AtomicLong()).incrementAndGet();
        long attempts = current == null ? 1 : current.attempts() + 1;
        outage = new Outage(since, current == null ? what : current.what(), attempts, what + ": " + e.getMessage(), limit);
        LOG.warn("{} failed (attempt {}, outage {} s of at most {} s), retrying in {} ms: {}", what, attempts, lasted.toSeconds(),
                limit.toSeconds(), backoff, e.getMessage());
        return backoff;
    }

    /** The outage (if any) is over: something that failed in it succeeded. */
    public synchronized void recovered() {
        Outage was = outage;
        if (was != null) {
            outage = null;
            LOG.info("recovered after {} s and {} failed attempt(s) ({})", Duration.between(was.since(), Instant.now()).toSeconds(),
                    was.attempts(), was.what());
        }
    }
}
