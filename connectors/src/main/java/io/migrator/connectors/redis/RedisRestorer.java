package io.migrator.connectors.redis;

import static io.migrator.connectors.redis.RedisTargetNodes.bytes;

import io.migrator.connectors.redis.RedisItem.Key;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * A full sync's keys onto the target, pipelined per node: strings with SET or MSET, other types with RESTORE of their DUMP
 * payload, absolute expiries kept ({@link #encodeRestores});
 * after a full resync, the target's keys the new copy did not carry are removed ({@link #reconcile}).
 */
final class RedisRestorer {
    private final Plan plan;
    private final List<Integer> databases;
    private final Predicate<byte[]> keyFilter;
    private final RedisBookkeeping books;
    private final RedisTargetWrites writes;
    private final RedisProgress progress;
    /** Batches in flight at most: enough that the target always has the next one while small batches come fast. */
    private static final int IN_FLIGHT = 4;
    /** Whether the target takes SET ... PXAT (Redis 6.2+); else a string's expiry follows it in PEXPIREAT. */
    private final boolean setPxat;
    /** A full resync's restored keys (hashes of db and key); null on a first full sync (an empty target has nothing stale). */
    private LongHashSet restoredKeys;

    RedisRestorer(Plan plan, List<Integer> databases, Predicate<byte[]> keyFilter, RedisBookkeeping books, RedisTargetWrites writes,
            RedisProgress progress, boolean setPxat) {
        this.plan = plan;
        this.databases = databases;
        this.keyFilter = keyFilter;
        this.books = books;
        this.writes = writes;
        this.progress = progress;
        this.setPxat = setPxat;
    }

    /** A full sync begins; {@code resync}: the target holds an earlier copy, whose keys the new one lacks go at the end. */
    void begin(boolean resync) {
        restoredKeys = resync ? new LongHashSet() : null;
    }

    /** Whether this full sync is a resync (stale keys to remove at its end). */
    boolean resync() {
        return restoredKeys != null;
    }

    /** How many keys this resync restored. */
    int restoredCount() {
        return restoredKeys == null ? 0 : restoredKeys.size();
    }

    /** The full sync is over. */
    void end() {
        restoredKeys = null;
    }


    /** A batch sent whose replies are not read yet. */
    private record Sent(List<Key> keys, Map<RespConnection, List<byte[][]>> byNode) {
    }

    /** Batches sent whose replies are not read yet, oldest first: the target never waits for the next one. */
    private final ArrayDeque<Sent> inFlight = new ArrayDeque<>();
    private boolean resend;

    /**
     * Writes these keys, pipelined per node, with up to {@link #IN_FLIGHT} batches in flight: a batch is sent before the
     * replies of the ones before it are read, so the target works through them while the next is built. {@code drain}
     * reads everything (before the stream starts, or another full sync). Every write replaces the key whole (SET, MSET,
     * RESTORE ... REPLACE), so after a lost connection every batch not confirmed is sent again.
     */
    void restore(List<Key> keys, boolean drain) {
        if (keys.isEmpty() && inFlight.isEmpty()) {
            return;
        }
        writes.fenceLease();
        List<Key> batch = List.copyOf(keys);
        long now = System.currentTimeMillis();
        boolean[] sent = {batch.isEmpty()};
        writes.withRetry("restoring " + batch.size() + " keys", () -> {
            try {
                if (resend) {
                    List<Key> again = new ArrayList<>();
                    inFlight.forEach(f -> again.addAll(f.keys()));
                    if (!sent[0]) {
                        again.addAll(batch);
                    }
                    books.connectionDb = 0; // new connections
                    Map<RespConnection, List<byte[][]>> all = encodeRestores(again, now);
                    all.keySet().forEach(RespConnection::flush);
                    readRestores(all);
                    inFlight.clear();
                    resend = false;
                    return;
                }
                if (!sent[0]) {
                    Map<RespConnection, List<byte[][]>> byNode = encodeRestores(batch, now);
                    byNode.keySet().forEach(RespConnection::flush);
                    inFlight.addLast(new Sent(batch, byNode));
                    sent[0] = true;
                }
                while (inFlight.size() > (drain ? 0 : IN_FLIGHT)) {
                    readRestores(inFlight.peekFirst().byNode());
                    inFlight.pollFirst();
                }
            } catch (JedisConnectionException e) {
                resend = true;
                throw e;
            }
        });
        throttle();
        int db = -1;
        long count = 0;
        for (Key k : batch) {
            if (restorable(k, now)) { // an expired key is not restored: a full resync then removes a stale copy of it
                if (k.db() != db) {
                    counted(db, count);
                    db = k.db();
                    count = 0;
                }
                count++;
                if (restoredKeys != null) {
                    restoredKeys.add(LongHashSet.hash(k.db(), k.key()));
                }
            }
        }
        counted(db, count);
    }

    private void counted(int db, long keys) {
        if (keys > 0) {
            progress.keysRestored.computeIfAbsent(db, d -> new AtomicLong()).addAndGet(keys);
        }
    }

    /** A key of the plan's databases and patterns, not bookkeeping, not expired already (the source no longer serves it). */
    private boolean restorable(Key k, long now) {
        return databases.contains(k.db()) && !RedisCheckpoint.bookkeeping(k.key()) && keyFilter.test(k.key())
                && (k.expireAt() < 0 || k.expireAt() > now);
    }

    /**
     * Queues the writes of these keys on their nodes (SELECTs followed on a standalone target); returns what was queued. A
     * string is written as itself: on a standalone target the strings without expiry of one database go in one MSET, others
     * with SET (and their absolute expiry: PXAT, or PEXPIREAT on a target older than 6.2); every other type with RESTORE
     * of its DUMP payload. Each replaces whatever the target held under the key, expiry included.
     */
    private Map<RespConnection, List<byte[][]>> encodeRestores(List<Key> keys, long now) {
        Map<RespConnection, List<byte[][]>> byNode = new LinkedHashMap<>();
        boolean cluster = books.target.cluster();
        Map<Integer, List<byte[]>> msets = new java.util.TreeMap<>();
        for (Key k : keys) {
            if (!restorable(k, now)) {
                continue;
            }
            if (k.string() && k.expireAt() < 0 && !cluster) {
                List<byte[]> mset = msets.computeIfAbsent(k.db(), d -> new ArrayList<>(List.<byte[]>of(MSET)));
                mset.add(k.key());
                mset.add(k.payload());
                continue;
            }
            RespConnection node = books.target.node(books.target.slot(k.key()));
            List<byte[][]> out = byNode.computeIfAbsent(node, n -> new ArrayList<>());
            select(node, out, k.db());
            if (!k.string()) {
                send(node, out, k.expireAt() >= 0 ? new byte[][] {RESTORE, k.key(), bytes(Long.toString(k.expireAt())), k.payload(), REPLACE, ABSTTL}
                        : new byte[][] {RESTORE, k.key(), ZERO, k.payload(), REPLACE});
            } else if (k.expireAt() < 0) {
                send(node, out, new byte[][] {SET, k.key(), k.payload()});
            } else if (setPxat) {
                send(node, out, new byte[][] {SET, k.key(), k.payload(), PXAT, bytes(Long.toString(k.expireAt()))});
            } else {
                send(node, out, new byte[][] {SET, k.key(), k.payload()});
                send(node, out, new byte[][] {PEXPIREAT, k.key(), bytes(Long.toString(k.expireAt()))});
            }
        }
        for (Map.Entry<Integer, List<byte[]>> m : msets.entrySet()) {
            RespConnection node = books.target.node(0);
            List<byte[][]> out = byNode.computeIfAbsent(node, n -> new ArrayList<>());
            select(node, out, m.getKey());
            send(node, out, m.getValue().toArray(new byte[0][]));
        }
        return byNode;
    }

    /** On a standalone target: SELECT the key's database first, where the connection has another one selected. */
    private void select(RespConnection node, List<byte[][]> out, int db) {
        if (!books.target.cluster() && books.connectionDb != db) {
            send(node, out, RedisTargetNodes.argv("SELECT", Integer.toString(db)));
            books.connectionDb = db;
        }
    }

    private static void send(RespConnection node, List<byte[][]> out, byte[][] argv) {
        out.add(argv);
        node.send(argv);
    }

    private void readRestores(Map<RespConnection, List<byte[][]>> sent) {
        for (Map.Entry<RespConnection, List<byte[][]>> e : sent.entrySet()) {
            List<Object> replies = e.getKey().getMany(e.getValue().size());
            for (int i = 0; i < replies.size(); i++) {
                if (replies.get(i) instanceof JedisDataException d) {
                    throw refusedRestore(e.getValue().get(i), d);
                }
            }
        }
    }

    private static final byte[] RESTORE = bytes("RESTORE");
    private static final byte[] REPLACE = bytes("REPLACE");
    private static final byte[] ABSTTL = bytes("ABSTTL");
    private static final byte[] ZERO = bytes("0");
    private static final byte[] SET = bytes("SET");
    private static final byte[] MSET = bytes("MSET");
    private static final byte[] PXAT = bytes("PXAT");
    private static final byte[] PEXPIREAT = bytes("PEXPIREAT");

    /**

     * {@code snapshot.maxRowsPerSecond} counts keys here: the restore waits so the full sync stays under it. The source's
     * output buffer for this replica grows meanwhile (client-output-buffer-limit replica): a limit far below the write rate
     * makes the source drop the replica, and the full sync starts over.
     */
    private void throttle() {
        long limit = plan.snapshot().maxRowsPerSecond();
        if (limit <= 0 || progress.fullSyncStartedMillis == 0) {
            return;
        }
        long restored = progress.keysRestored();
        long due = progress.fullSyncStartedMillis + restored * 1000 / limit;
        long wait = due - System.currentTimeMillis();
        if (wait > 0) {
            RedisTargetWrites.sleep(wait);
        }
    }

    private RuntimeException refusedRestore(byte[][] argv, JedisDataException e) {
        String message = e.getMessage() == null ? "" : e.getMessage();
        if (RedisTargetWrites.redirect(message)) {
            return new JedisConnectionException("the cluster moved slots: " + message); // retried after reading the slot map again
        }
        String key = RedisKeyParity.display(new String(argv[1], StandardCharsets.ISO_8859_1));
        if (message.contains("payload version") || message.contains("DUMP payload")) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the target refused the DUMP payload of key " + key + ": " + message,
                    "the target's Redis is older than the source's: check `migrator plan check` (target version); payloads are re-encoded "
                            + "for the target's RDB version, but module types and newer encodings cannot be", e);
        }
        if (message.startsWith("OOM")) {
            return new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the target is out of memory (maxmemory) while restoring key " + key,
                    "give the target more memory (a larger node type or more shards), then `migrator run` again", e);
        }
        return new MigratorException(ErrorCode.INTERNAL, "the target refused RESTORE of key " + key + ": " + message,
                "look at the target's log; then `migrator run` again", e);
    }

    /** After a full resync: deletes target keys (of the plan's databases and patterns) the new copy did not carry. */
    long reconcile() {
        long removed = 0;
        for (RespConnection node : books.target.masters()) {
            for (int db : books.target.cluster() ? List.of(0) : databases) {
                if (!books.target.cluster()) {
                    RedisTargetNodes.send(node, RedisTargetNodes.argv("SELECT", Integer.toString(db)));
                    node.getOne();
                    books.connectionDb = db;
                }
                byte[] cursor = bytes("0");
                do {
                    RedisTargetNodes.send(node, new byte[][] {bytes("SCAN"), cursor, bytes("COUNT"), bytes("1000")});
                    List<?> reply = (List<?>) node.getOne();
                    cursor = (byte[]) reply.get(0);
                    List<byte[][]> deletes = new ArrayList<>();
                    for (Object k : (List<?>) reply.get(1)) {
                        byte[] key = (byte[]) k;
                        if (!RedisCheckpoint.bookkeeping(key) && keyFilter.test(key) && !restoredKeys.contains(LongHashSet.hash(db, key))) {
                            deletes.add(new byte[][] {bytes("UNLINK"), key});
                        }
                    }
                    for (byte[][] d : deletes) {
                        RedisTargetNodes.send(node, d);
                    }
                    if (!deletes.isEmpty()) {
                        node.getMany(deletes.size());
                    }
                    removed += deletes.size();
                } while (!Arrays.equals(cursor, bytes("0")));
            }
        }
        return removed;
    }
}
