package io.migrator.connectors.redis;

import io.migrator.connectors.redis.RedisItem.Command;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.Phase;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import redis.clients.jedis.exceptions.JedisConnectionException;

/**
 * The stream applied to a standalone target: each batch is one MULTI/EXEC holding its commands (SELECTs followed, the plan's
 * databases only) and, last, the checkpoint in database 0, written only where the target still holds the previous one
 * ({@link RedisContinuity}). Two batches are in flight: one is sent before the previous one's EXEC reply is read, so the
 * target runs one while the next is built. Each commits whole with its own checkpoint, so after a lost connection the
 * stored checkpoint says which of them to apply again.
 */
final class RedisStandaloneApplier implements RedisApplier {
    /** A batch sent, its EXEC reply not read yet. */
    private record InFlight(List<Command> commands, List<byte[][]> out, RedisCheckpoint next, int count) {
    }

    private final Plan plan;
    private final List<Integer> databases;
    private final RedisBookkeeping books;
    private final RedisTargetWrites writes;
    private final RedisCommandFilter filter;
    private final AtomicReference<Phase> phase;
    private final AtomicLong appliedEvents;
    private final AtomicLong appliedBatches;
    private InFlight inFlight;

    RedisStandaloneApplier(Plan plan, List<Integer> databases, RedisBookkeeping books, RedisTargetWrites writes, RedisCommandFilter filter,
            AtomicReference<Phase> phase, AtomicLong appliedEvents, AtomicLong appliedBatches) {
        this.plan = plan;
        this.databases = databases;
        this.books = books;
        this.writes = writes;
        this.filter = filter;
        this.phase = phase;
        this.appliedEvents = appliedEvents;
        this.appliedBatches = appliedBatches;
    }

    @Override
    public void apply(List<Command> batch) {
        InFlight before = inFlight;
        List<List<Command>> candidates = before == null ? List.of(batch) : List.of(before.commands(), batch);
        try {
            inFlight = sendStandalone(batch, before != null ? before.next() : books.checkpoint);
            if (before != null) {
                confirm(before);
            }
        } catch (JedisConnectionException e) {
            recoverStandalone(candidates, e);
        }
    }

    @Override
    public boolean inFlight() {
        return inFlight != null;
    }

    @Override
    public void newHistory() {
        books.slotOffsets.clear();
    }

    /**
     * Sends one MULTI/EXEC (the commands, SELECTs followed, then the checkpoint in database 0) without reading its replies:
     * {@link #confirm} does, once the next batch is on its way.
     */
    private InFlight sendStandalone(List<Command> batch, RedisCheckpoint base) {
        Command last = batch.get(batch.size() - 1);
        RespConnection node = books.target.node(0);
        List<byte[][]> out = new ArrayList<>();
        int db = books.connectionDb;
        if (db != 0) {
            out.add(RedisTargetNodes.argv("SELECT", "0"));
            db = 0;
        }
        out.add(RedisContinuity.begin(RedisCheckpoint.key(plan.name()))); // in database 0, as the checkpoint
        int count = 0;
        for (Command c : batch) {
            String name = c.name();
            switch (name) {
                case "SELECT" -> books.streamDb = Integer.parseInt(new String(c.argv()[1], StandardCharsets.US_ASCII));
                case "MULTI", "EXEC", "PING", "REPLCONF", "PUBLISH", "SPUBLISH" -> {
                    // our own MULTI/EXEC wraps the batch (a source transaction never spans two batches); pings and
                    // messages are not data
                }
                case "FLUSHALL" -> {
                    filter.requireNoKeyFilter(name);
                    for (int d : databases) { // the plan's databases only: others on the target are not ours
                        out.add(RedisTargetNodes.argv("SELECT", Integer.toString(d)));
                        byte[][] flush = c.argv().clone();
                        flush[0] = RedisTargetNodes.bytes("FLUSHDB");
                        out.add(d == 0 ? RedisContinuity.flushKeeping(RedisCheckpoint.key(plan.name()), flush) : flush);
                        db = d;
                    }
                    count++;
                }
                default -> {
                    filter.requireSelected(c);
                    if (!databases.contains(books.streamDb)) {
                        continue;
                    }
                    if (name.equals("FLUSHDB")) {
                        filter.requireNoKeyFilter(name);
                    }
                    byte[][] argv = filter.filtered(c);
                    if (argv == null) {
                        continue;
                    }
                    if (db != books.streamDb) {
                        out.add(RedisTargetNodes.argv("SELECT", Integer.toString(books.streamDb)));
                        db = books.streamDb;
                    }
                    out.add(db == 0 && name.equals("FLUSHDB") ? RedisContinuity.flushKeeping(RedisCheckpoint.key(plan.name()), argv) : argv);
                    count++;
                }
            }
        }
        if (db != 0) {
            out.add(RedisTargetNodes.argv("SELECT", "0"));
            db = 0;
        }
        Phase now = phase.get() == Phase.STREAMING || phase.get() == Phase.CATCH_UP ? phase.get() : base.phase();
        RedisCheckpoint next = base.at(base.replId(), last.end(), books.streamDb)
                .with(now, base.events() + count, base.keysRestored(), base.sync());
        out.add(RedisContinuity.commit(RedisCheckpoint.key(plan.name()), base.offset(), next.fields()));
        RedisTargetNodes.send(node, RedisTargetNodes.argv("MULTI"));
        for (byte[][] argv : out) {
            RedisTargetNodes.send(node, argv);
        }
        RedisTargetNodes.send(node, RedisTargetNodes.argv("EXEC"));
        node.flush();
        books.connectionDb = db; // 0: every batch ends there
        return new InFlight(batch, out, next, count);
    }

    /** Reads a sent batch's replies; once its EXEC succeeded, its checkpoint is the applied position. */
    private void confirm(InFlight f) {
        writes.checkExec(books.target.node(0).getMany(f.out().size() + 2), f.out());
        books.checkpoint = f.next();
        books.everStored = true;
        appliedEvents.addAndGet(f.count());
        appliedBatches.incrementAndGet();
    }

    /** Reads the replies of the batch still in flight (idle source, before a full sync, at the end). */
    @Override
    public void drain() {
        InFlight f = inFlight;
        if (f == null) {
            return;
        }
        try {
            confirm(f);
            inFlight = null;
        } catch (JedisConnectionException e) {
            recoverStandalone(List.of(f.commands()), e);
        }
    }

    /**
     * After a lost connection with batches in flight: reconnects, reads the checkpoint back (it sits at a batch boundary:
     * each batch commits whole), and applies again, one at a time, the batches it does not cover.
     */
    private void recoverStandalone(List<List<Command>> candidates, RuntimeException failure) {
        RuntimeException cause = failure;
        long backoff = 200;
        while (true) {
            if (writes.stopping()) {
                throw new MigratorException(ErrorCode.CANNOT_CONNECT, "applying commands on the target at " + plan.target().address()
                        + " was interrupted by the stop: " + cause.getMessage(), "`migrator run` again: it resumes from the target's "
                        + "checkpoint", cause);
            }
            writes.retried.incrementAndGet();
            // waited out for network.maxOutage (status: degraded), then given up with how long it lasted
            RedisTargetWrites.sleep(writes.retry().failed("applying commands on the target", writes.lostTarget("applying commands", cause), backoff));
            backoff = Math.min(backoff * 2, 10_000);
            try {
                books.target.refresh();
                books.connectionDb = 0;
                inFlight = null;
                RedisCheckpoint stored = books.loadCheckpoint();
                books.requireContinuity(stored, null);
                if (stored != null && stored.offset() > books.checkpoint.offset()) {
                    books.checkpoint = stored; // committed before the connection broke
                    appliedEvents.set(stored.events());
                }
                books.streamDb = books.checkpoint.db();
                for (List<Command> b : candidates) {
                    if (b.get(b.size() - 1).end() <= books.checkpoint.offset()) {
                        continue;
                    }
                    confirm(sendStandalone(b, books.checkpoint));
                }
                writes.retry().recovered();
                return;
            } catch (JedisConnectionException again) {
                cause = again;
            }
        }
    }
}
