package io.migrator.connectors.redis;

import static io.migrator.connectors.redis.RedisTargetNodes.bytes;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * A Redis worker once its migration is cut over: it runs the reverse direction (the new server's writes streamed into the
 * old source from the cutover's fence) or, under {@code rollback.cache}, waits for a rollback without one; after the
 * rollback the migration streams forward again, from the old source's position at the rollback's fence or in full.
 */
final class RedisAfterCutover {
    private static final Logger LOG = LoggerFactory.getLogger(RedisAfterCutover.class);

    private final RedisMigration worker;

    RedisAfterCutover(RedisMigration worker) {
        this.worker = worker;
    }

    /**
     * Cut over: the reverse direction streams the new server's writes into the old source from the cutover's fence until
     * the worker stops (false) or its cutover, the rollback, is done (true): then this migration streams forward again from
     * the old source's position read at the rollback's fence. Without a reverse direction: status until stopped (false).
     */
    boolean followReverse(AtomicBoolean stop) {
        worker.streamStopped = true;
        Plan plan = worker.plan();
        String forwardName = worker.forwardName();
        if (forwardName == null && !plan.cutover().reverse() && !plan.cutover().rollbackCache().isEmpty()) {
            return followPolicy(stop);
        }
        java.util.Optional<String> from = forwardName == null && plan.cutover().reverse() ? recordedReverseFrom() : java.util.Optional.empty();
        if (from.isEmpty()) {
            LOG.info("migration {} is cut over: the forward stream has ended{}; the worker serves status until it is stopped", plan.name(),
                    forwardName != null ? " (this is a reverse direction: rolled back)" : plan.cutover().reverse()
                            ? " and the cutover recorded no position a reverse stream could start at" : " (cutover.reverse: false)");
            while (!stop.get()) {
                RedisTargetWrites.sleep(200);
            }
            return false;
        }
        Plan reversed = plan.reversed();
        while (!stop.get()) {
            try {
                if ("cut-over".equals(RedisReverse.state(reversed))) {
                    forwardAgain(reversed); // rolled back, and this worker stopped before it streamed forward again
                    return true;
                }
                if (RedisReverse.seed(reversed, from.get())) {
                    RedisCutover.forgetAcl(reversed); // a rollback's lasting freeze, given back at this cutover's admit step
                    LOG.info("reverse replication {} -> {} as {}, from the cutover's fence at {}", plan.target().address(),
                            plan.source().address(), reversed.name(), from.get());
                }
                RedisMigration back = new RedisMigration(reversed, plan.name());
                back.servedAt(worker.listenAddress());
                if (worker.runReverse(back, stop)) {
                    forwardAgain(reversed);
                    return true;
                }
                return false;
            } catch (MigratorException | JedisConnectionException | JedisDataException e) {
                if (stop.get()) {
                    return false;
                }
                LOG.warn("reverse replication stopped: {}; starting it again in 10 s", e.getMessage());
                for (int i = 0; i < 100 && !stop.get(); i++) {
                    RedisTargetWrites.sleep(100);
                }
            }
        }
        return false;
    }

    /**
     * Cut over with a rollback policy and no reverse stream: until the worker stops (false) or `migrator rollback` has sent
     * the application back to the old cache (true): then the new server syncs in full from it. A rollback a restart finds
     * interrupted is undone (before its point of no return) or finished (after), as a cutover is.
     */
    private boolean followPolicy(AtomicBoolean stop) {
        Plan plan = worker.plan();
        LOG.info("migration {} is cut over; no reverse stream (rollback.cache: {}): a rollback sends the application back to the old "
                + "cache without the new server's writes", plan.name(), plan.cutover().rollbackCache());
        RedisCachePolicy p = new RedisCachePolicy(plan, worker::status);
        worker.policy = p;
        try {
            String state = p.recover();
            if ("cut-over".equals(state)) {
                forwardAgainInFull(p);
                return true;
            }
            if (state != null) {
                p.driver.recover(); // before its point of no return: undone here; after: finished on the cutover thread
            }
            while (!stop.get()) {
                if (p.done()) {
                    forwardAgainInFull(p);
                    return true;
                }
                RedisTargetWrites.sleep(100);
            }
            p.driver.await();
            return false;
        } finally {
            p.driver.report().ifPresent(worker::keepRollbackReport);
            worker.policy = null;
            p.close();
        }
    }

    /**
     * After a rollback under rollback.cache: the checkpoint marked for a full resync (first: a restart before the rest
     * syncs in full too), ROLLED_BACK journaled and the cutover state cleared, then what the rollback's admit step gave
     * back and its state on the old source removed. The new server's keys the old cache lacks go in the resync.
     */
    private void forwardAgainInFull(RedisCachePolicy p) {
        Plan plan = worker.plan();
        RedisBookkeeping books = worker.books;
        String why = "rolled back under rollback.cache: " + plan.cutover().rollbackCache() + " (no reverse stream carried the new server's "
                + "writes back)";
        RespConnection node = books.checkpointNode();
        RedisTargetNodes.send(node, new byte[][] {bytes("HSET"), bytes(RedisCheckpoint.key(plan.name())), bytes(RedisCheckpoint.RESYNC),
            bytes(why)});
        if (node.getOne() instanceof JedisDataException e) {
            throw e;
        }
        books.resyncReason = why;
        worker.progress.fullSyncDone = false; // not STREAMING before the full sync has run
        worker.cutoverJournal(Phase.ROLLED_BACK, "rolled back: the old cache takes the application's writes again (rollback.cache: "
                + plan.cutover().rollbackCache() + "); the new server syncs in full from it");
        worker.moveTo(Phase.ROLLED_BACK);
        worker.moveTo(Phase.CATCH_UP);
        RedisCutover.forgetAcl(plan); // the cutover's lasting freeze, given back at the rollback's admit step
        LOG.info("the rollback is done with: {}", RedisReverse.forgetStream(p.reversed()));
    }

    /** The new server's position this migration's last cutover recorded (its journal's REVERSE_FROM entry). */
    private java.util.Optional<String> recordedReverseFrom() {
        String found = null;
        for (MigrationStatus.PhaseEntry e : worker.phaseEntries()) {
            if (e.detail().startsWith(io.migrator.core.cutover.Runbook.STARTED)) {
                found = null;
            } else if (e.detail().startsWith(io.migrator.core.cutover.Runbook.REVERSE_FROM)) {
                found = e.detail().substring(io.migrator.core.cutover.Runbook.REVERSE_FROM.length());
            }
        }
        return java.util.Optional.ofNullable(found);
    }

    /**
     * After the rollback: this migration's checkpoint set to the old source's position read at the rollback's fence (first:
     * a restart before the rest finds it there), ROLLED_BACK journaled and the cutover state cleared, then what the
     * rollback's admit step gave back and the reverse direction's stream state removed. The stream starts there.
     */
    private void forwardAgain(Plan reversed) {
        Plan plan = worker.plan();
        RedisBookkeeping books = worker.books;
        String from = RedisReverse.recordedFrom(reversed).orElseThrow(() -> new MigratorException(ErrorCode.CUTOVER_FAILED, "the rollback "
                + "of " + plan.name() + " recorded no position on the old source to stream forward from", "look at the worker's log; "
                + "`migrator complete` and a fresh migration start over"));
        int colon = from.lastIndexOf(':');
        books.checkpoint = new RedisCheckpoint(from.substring(0, colon), Long.parseLong(from.substring(colon + 1)), 0, Phase.CATCH_UP,
                worker.appliedEvents(), books.checkpoint.keysRestored(), "partial", Instant.now().toString());
        books.streamDb = 0;
        books.writeCheckpoint(books.checkpoint);
        worker.cutoverJournal(Phase.ROLLED_BACK, "rolled back: the old source takes the application's writes again; streaming forward from "
                + from);
        worker.moveTo(Phase.ROLLED_BACK);
        worker.moveTo(Phase.CATCH_UP);
        worker.cutoverJournal(Phase.CATCH_UP, "forward again from the old source at " + from + ", ready for another cutover");
        RedisCutover.forgetAcl(plan); // the cutover's lasting freeze, given back at the rollback's admit step
        LOG.info("the reverse direction is done with: {}", RedisReverse.forgetStream(reversed));
    }
}
