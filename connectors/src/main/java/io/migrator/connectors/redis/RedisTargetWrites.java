package io.migrator.connectors.redis;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.error.Retry;
import io.migrator.core.plan.Plan;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * How the applier writes to the target, for the restorer and both appliers alike: no write without the claim
 * ({@link #fenceLease}), a lost connection or a moved slot waited out under the shared outage budget and the work run
 * again past what committed ({@link #withRetry}), and every refusal named by its command, never by its values.
 */
final class RedisTargetWrites {
    private final Plan plan;
    private final RedisBookkeeping books;
    private final Supplier<RedisWorkerLease> lease;
    private final BooleanSupplier leaseLost;
    private final AtomicBoolean stopping;
    private final Retry retry;
    /** Target operations run again after a lost connection (status: retries). */
    final AtomicLong retried = new AtomicLong();

    RedisTargetWrites(Plan plan, RedisBookkeeping books, Supplier<RedisWorkerLease> lease, BooleanSupplier leaseLost, AtomicBoolean stopping,
            Retry retry) {
        this.plan = plan;
        this.books = books;
        this.lease = lease;
        this.leaseLost = leaseLost;
        this.stopping = stopping;
        this.retry = retry;
    }

    boolean stopping() {
        return stopping.get();
    }

    Retry retry() {
        return retry;
    }

    /**
     * Before a write: this worker still surely holds the claim. Redis has no session lock to fence a batch with, so a worker
     * that lost the claim, or was paused past the point where another could take it, stops here instead of writing.
     */
    void fenceLease() {
        RedisWorkerLease held = lease.get();
        long backoff = 200;
        boolean waited = false;
        while (true) {
            if (leaseLost.getAsBoolean()) { // nor is its failure written over what another worker may have stored meanwhile
                throw new MigratorException(ErrorCode.WORKER_RUNNING, "migration " + plan.name() + "'s claim on the target was taken by "
                        + "another worker; this worker stops before writing more", "follow the other worker with `migrator status PLAN`, "
                        + "or run `migrator run` again: it resumes from the target's checkpoint");
            }
            if (held == null || held.fresh()) {
                if (waited) {
                    retry.recovered();
                }
                return;
            }
            // the target did not answer the renewals lately (or this process was paused): no write until the claim is confirmed
            // this worker's again, waited out as an outage (degraded) for network.maxOutage; the applier's own connection may
            // be back first (a half-open one is replaced sooner than the claim's), and must not end the worker meanwhile
            if (stopping.get()) {
                throw new MigratorException(ErrorCode.CANNOT_CONNECT, "the claim on the target could not be confirmed before the stop",
                        "`migrator run` again: it resumes from the target's checkpoint");
            }
            JedisConnectionException stale = new JedisConnectionException("the claim on the target has not been renewed for "
                    + (RedisWorkerLease.TTL_MILLIS - RedisWorkerLease.STOP_MARGIN_MILLIS) / 1000 + " s (the target does not answer): "
                    + "no write until it is");
            sleep(retry.failed("confirming the claim on the target", lostTarget("confirming the claim", stale), backoff));
            backoff = Math.min(backoff * 2, 2_000);
            waited = true;
        }
    }

    /** A lost target connection as the shared outage budget takes it. */
    io.migrator.core.error.RetriableException lostTarget(String what, RuntimeException cause) {
        return new io.migrator.core.error.RetriableException(ErrorCode.CANNOT_CONNECT, what + " on the target at " + plan.target().address()
                + " failed: " + cause.getMessage(), "check the target runs; `migrator run` again resumes from the target's checkpoint", cause);
    }

    /**
     * Runs a target operation; after a lost connection or a moved slot, reconnects and rereads what committed (the checkpoint,
     * the slots' offsets) until that succeeds, and only then runs the operation again, stepping over what did commit.
     */
    void withRetry(String what, Runnable work) {
        long backoff = 200;
        while (true) {
            try {
                work.run();
                retry.recovered();
                return;
            } catch (JedisConnectionException | redis.clients.jedis.exceptions.JedisClusterOperationException e) {
                RuntimeException cause = e;
                while (true) {
                    if (stopping.get()) {
                        throw new MigratorException(ErrorCode.CANNOT_CONNECT, what + " on the target at " + plan.target().address()
                                + " was interrupted by the stop: " + cause.getMessage(), "`migrator run` again: it resumes from the "
                                + "target's checkpoint", cause);
                    }
                    retried.incrementAndGet();
                    sleep(retry.failed(what + " on the target", lostTarget(what, cause), backoff));
                    backoff = Math.min(backoff * 2, 10_000);
                    try {
                        books.target.refresh();
                        books.connectionDb = 0;
                        RedisCheckpoint stored = books.loadCheckpoint();
                        books.requireContinuity(stored, books.target.cluster() ? books.loadSlotOffsets() : null);
                        if (stored != null && stored.offset() > books.checkpoint.offset()) {
                            books.checkpoint = stored; // the batch did commit before the connection broke
                            books.streamDb = stored.db();
                            return;
                        }
                        break; // recovered: run the work again
                    } catch (JedisConnectionException | redis.clients.jedis.exceptions.JedisClusterOperationException again) {
                        cause = again;
                    }
                }
            }
        }
    }

    /** A cluster reply that means "ask again, elsewhere or later" (slots moving, a failover): retriable. */
    static boolean redirect(String message) {
        return message.startsWith("MOVED") || message.startsWith("ASK") || message.startsWith("TRYAGAIN") || message.startsWith("CLUSTERDOWN");
    }

    /**
     * Replies of MULTI, each QUEUED, and EXEC: any refusal names the command (never its values) and stops the stream. A
     * command that failed inside EXEC left the others applied: the checkpoint is marked for a full resync (in the same EXEC
     * where {@link RedisContinuity} could, else right here) and the worker stops with {@link ErrorCode#TARGET_LOST}.
     */
    void checkExec(List<Object> replies, List<byte[][]> out) {
        for (int i = 1; i < replies.size() - 1; i++) {
            if (replies.get(i) instanceof JedisDataException d) {
                throw refused(out.get(i - 1), d, false);
            }
        }
        Object exec = replies.get(replies.size() - 1);
        if (exec instanceof JedisDataException d) {
            throw refused(null, d, false);
        }
        if (exec instanceof List<?> results) {
            String failed = null;
            RuntimeException first = null;
            for (int i = 0; i < results.size(); i++) {
                if (results.get(i) instanceof JedisDataException d) {
                    if (RedisContinuity.lost(d.getMessage())) {
                        if (books.target.cluster()) { // a slot's mark: the checkpoint says it too (it may be gone with the slot's node)
                            books.markResync(d.getMessage().substring("MIGRATORLOST ".length()));
                        }
                        throw RedisContinuity.failure(plan.name(), d.getMessage(), failed);
                    }
                    if (first == null) {
                        first = refused(out.get(i), d, true);
                        failed = first.getMessage();
                    }
                }
            }
            if (first instanceof JedisConnectionException) {
                throw first; // a slot moved: retried
            }
            if (first != null) { // a cluster slot's transaction (or a server without error counts): marked here
                String why = "a command of the stream failed on the target: " + failed;
                books.markResync(why);
                throw RedisContinuity.failure(plan.name(), "MIGRATORLOST " + why, null);
            }
        }
    }

    static RuntimeException refused(byte[][] argv, JedisDataException d, boolean applied) {
        String message = d.getMessage() == null ? "" : d.getMessage();
        if (redirect(message)) {
            return new JedisConnectionException("the cluster moved slots: " + message); // retried after reading the slot map again
        }
        String what = argv == null ? "the transaction" : new String(argv[0], StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT)
                + (argv.length > 1 ? " on key " + RedisKeyParity.display(new String(argv[1], StandardCharsets.ISO_8859_1)) : "");
        if (message.startsWith("OOM")) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the target is out of memory (maxmemory): it refused " + what,
                    "give the target more memory, then `migrator run` again: nothing of this batch was applied", d);
        }
        if (message.contains("unknown command") || message.contains("NOPERM")) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the target cannot run " + what + ": " + message,
                    "the target must support every command the source's applications use (version, ACL); nothing of this batch "
                            + "was applied; fix the target, then `migrator run` again", d);
        }
        return new MigratorException(ErrorCode.INTERNAL, "the target refused " + what + ": " + message
                + (applied ? " (the target differs from the source for this key)" : ""),
                "validate (`migrator validate`) and repair the key, or start the migration afresh into an empty target", d);
    }

    /** Sleeps, keeping an interrupt for the caller to see. */
    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
