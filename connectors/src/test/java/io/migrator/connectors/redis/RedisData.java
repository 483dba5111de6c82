package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Plan;
import io.migrator.sandbox.SandboxEndpoint;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.Transaction;
import redis.clients.jedis.commands.JedisBinaryCommands;
import redis.clients.jedis.commands.JedisCommands;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.params.XAddParams;
import redis.clients.jedis.resps.ScanResult;

/**
 * Test data for Redis migrations: a seed of every type, a writer that changes them all the time (counters, appends, list
 * pushes and pops, hash and set changes, sorted-set increments, stream entries and consumer groups, expirations, deletes,
 * renames within a hash tag, MULTI/EXEC), and a comparison of source and target that reads values by type, independent of
 * migrator's own validator.
 */
final class RedisData {
    /** The worker on its own thread; {@code stop} ends it as SIGTERM would. */
    record Running(RedisMigration worker, AtomicBoolean stop, Thread thread, AtomicReference<Throwable> failure) {
        void halt() throws InterruptedException {
            stop.set(true);
            thread.join(60_000);
            assertThat(thread.isAlive()).as("the worker stops").isFalse();
        }
    }

    static Running start(Plan plan) {
        RedisMigration worker = new RedisMigration(plan);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                worker.run(stop);
            } catch (Throwable e) {
                failure.set(e);
            }
        }, "worker-" + plan.name());
        t.start();
        return new Running(worker, stop, t, failure);
    }


    private RedisData() {
    }

    /** Waits up to 90 s for a condition, failing at once when the worker fails. */
    static void await(String what, Running running, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + java.time.Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline) {
            if (running.failure().get() != null) {
                throw new AssertionError("the worker failed while waiting for " + what, running.failure().get());
            }
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("timed out waiting for " + what + ": " + running.worker().status());
    }

    /** Applied everything the source wrote: the checkpoint reached the source's replication offset, nothing queued. */
    static void awaitCaughtUp(SandboxEndpoint source, Running running) throws InterruptedException {
        long goal;
        try (Jedis s = jedis(source, 0)) {
            goal = Long.parseLong(RedisConnector.parseInfo(s.info("replication")).get("master_repl_offset"));
        }
        await("the stream to reach offset " + goal, running, () -> {
            io.migrator.core.state.MigrationStatus st = running.worker().status();
            String position = st.applied().position();
            return !position.isEmpty() && Long.parseLong(position.substring(position.indexOf(':') + 1)) >= goal && st.lag().events() == 0;
        });
    }

    static Jedis jedis(SandboxEndpoint e, int db) {
        Jedis j = new Jedis(e.host(), e.port(), 30_000);
        j.auth(e.password());
        j.select(db);
        return j;
    }

    /** Every type, keys with TTLs, a large value, a binary key; {@code prefix} keeps tests apart. */
    static void seed(Jedis j, String prefix, int n, boolean bigValue) {
        for (int i = 0; i < n; i++) {
            j.set(prefix + "str:" + i, "value-" + i);
            j.set(prefix + "ctr:" + i, Integer.toString(i));
            j.hset(prefix + "hash:" + i, Map.of("a", "1", "b", "two", "i", Integer.toString(i)));
            j.rpush(prefix + "list:" + i, "x", "y", Integer.toString(i));
            j.sadd(prefix + "set:" + i, "m1", "m2", "m" + i);
            j.zadd(prefix + "zset:" + i, Map.of("a", 1.5, "b", 2.0 + i));
            if (i % 10 == 0) {
                j.setex(prefix + "ttl:" + i, 3600, "expiring");
                j.set(prefix + "lzf:" + i, "compressible ".repeat(20) + i); // LZF-compressed in the RDB
                j.set(prefix + "int:" + i, Long.toString(Long.MIN_VALUE + i)); // the RDB's 64-bit integer encoding
                j.xadd(prefix + "stream:" + i, XAddParams.xAddParams(), Map.of("f", "v" + i));
                j.xgroupCreate(prefix + "stream:" + i, "g1", StreamEntryID.XGROUP_LAST_ENTRY, false);
            }
        }
        j.set((prefix + "bin:\u0000\u00ff").getBytes(StandardCharsets.ISO_8859_1), new byte[] {0, 1, 2, (byte) 0xff});
        if (bigValue) {
            byte[] big = new byte[11 << 20];
            new Random(7).nextBytes(big);
            j.set((prefix + "big").getBytes(StandardCharsets.UTF_8), big);
            StringBuilder many = new StringBuilder();
            for (int i = 0; i < 2000; i++) {
                j.hset(prefix + "bighash", "field" + i, "v" + i); // past the listpack limit: a hashtable
            }
        }
    }

    /** Changes keys of every type until stopped; returns how many commands it sent. */
    static Thread writer(SandboxEndpoint e, List<Integer> dbs, String prefix, int n, AtomicBoolean stop, AtomicLong writes, long seed,
                         java.util.concurrent.atomic.AtomicReference<Throwable> error) {
        Thread t = new Thread(() -> {
            Random r = new Random(seed);
            Map<Integer, Jedis> conns = new HashMap<>();
            try {
                for (int db : dbs) {
                    conns.put(db, jedis(e, db));
                }
                while (!stop.get()) {
                    Jedis j = conns.get(dbs.get(r.nextInt(dbs.size())));
                    int i = r.nextInt(n);
                    int hot = r.nextInt(10);
                    switch (r.nextInt(17)) {
                        case 0 -> j.incr(prefix + "ctr:" + (r.nextInt(10) < 9 ? hot : i)); // a few hot counters
                        case 1 -> j.append(prefix + "str:" + i, "+");
                        case 2 -> j.rpush(prefix + "list:" + i, "p" + r.nextInt(1000));
                        case 3 -> j.lpop(prefix + "list:" + i);
                        case 4 -> j.hincrBy(prefix + "hash:" + i, "i", 1);
                        case 5 -> j.hdel(prefix + "hash:" + i, "b");
                        case 6 -> j.sadd(prefix + "set:" + i, "s" + r.nextInt(50));
                        case 7 -> j.srem(prefix + "set:" + i, "m1");
                        case 8 -> j.zincrby(prefix + "zset:" + i, 0.5, "a");
                        case 9 -> j.xadd(prefix + "stream:" + (i / 10 * 10), XAddParams.xAddParams().maxLen(50), Map.of("f", "w"));
                        case 10 -> j.pexpire(prefix + "str:" + i, 600_000 + r.nextInt(1000));
                        case 11 -> j.del(prefix + "str:" + i, prefix + "set:" + i);
                        case 12 -> j.set(prefix + "str:" + i, "new-" + r.nextInt());
                        case 13 -> {
                            Transaction tx = j.multi(); // a source transaction: both or neither
                            tx.incrBy(prefix + "ctr:" + i, 10);
                            tx.decrBy(prefix + "ctr:" + hot, 10);
                            tx.exec();
                        }
                        case 14 -> {
                            String tag = prefix + "{t" + i + "}";
                            j.set(tag + ":a", "r" + r.nextInt());
                            j.rename(tag + ":a", tag + ":b"); // same hash tag: one slot on a cluster too
                        }
                        case 15 -> { // a consumer group at work: the source replicates XCLAIM / XGROUP SETID / XACK
                            String stream = prefix + "stream:" + (i / 10 * 10);
                            if (j.exists(stream) && j.xinfoGroups(stream).stream().anyMatch(g -> g.getName().equals("g1"))) {
                                var read = j.xreadGroup("g1", "c" + r.nextInt(3), redis.clients.jedis.params.XReadGroupParams.xReadGroupParams()
                                        .count(2), Map.of(stream, StreamEntryID.XREADGROUP_UNDELIVERED_ENTRY));
                                if (read != null && !read.isEmpty() && !read.get(0).getValue().isEmpty()) {
                                    j.xack(stream, "g1", read.get(0).getValue().get(0).getID());
                                }
                            }
                        }
                        default -> j.setex(prefix + "short:" + i, 1 + r.nextInt(3), "soon gone");
                    }
                    writes.incrementAndGet();
                }
            } catch (RuntimeException failure) {
                error.set(failure); // the test asserts none: a writer that died silently would prove nothing
            } finally {
                conns.values().forEach(Jedis::close);
            }
        }, "redis-writer");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Every key of the source db (but keys about to expire) is on the target with the same value and expiry, and no other. */
    static void assertSame(Jedis source, Function<byte[], Object> targetValue, List<String> targetKeys, String prefix, String where) {
        TreeSet<String> sourceKeys = new TreeSet<>(keys(source, prefix));
        TreeSet<String> onTarget = new TreeSet<>();
        for (String k : targetKeys) {
            if (k.startsWith(prefix)) {
                onTarget.add(k);
            }
        }
        // keys with a TTL of a few seconds may expire between the two scans: leave them out of the key-set comparison
        sourceKeys.removeIf(k -> k.startsWith(prefix + "short:"));
        onTarget.removeIf(k -> k.startsWith(prefix + "short:"));
        assertThat(onTarget).as(where + ": the target holds exactly the source's keys").isEqualTo(sourceKeys);
        int compared = 0;
        for (String key : sourceKeys) {
            byte[] raw = key.getBytes(StandardCharsets.ISO_8859_1);
            Object s = value(source, raw);
            Object t = targetValue.apply(raw);
            assertThat(t).as(where + ": value of " + key).usingComparator(RedisData::compareSeen).isEqualTo(s);
            compared++;
        }
        assertThat(compared).as(where + ": keys compared").isGreaterThan(0);
    }

    static List<String> keys(Jedis j, String prefix) {
        List<String> out = new ArrayList<>();
        byte[] cursor = ScanParams.SCAN_POINTER_START_BINARY;
        do {
            ScanResult<byte[]> page = j.scan(cursor, new ScanParams().count(1000).match((prefix + "*").getBytes(StandardCharsets.UTF_8)));
            cursor = page.getCursorAsBytes();
            for (byte[] k : page.getResult()) {
                out.add(new String(k, StandardCharsets.ISO_8859_1));
            }
        } while (!Arrays.equals(cursor, ScanParams.SCAN_POINTER_START_BINARY));
        return out;
    }

    /**
     * A key as read on one side: its type, its remaining time to live in ms (negative: none, or gone) and its value
     * rendered by type.
     */
    record Seen(String type, long pttl, String content) {
        @Override
        public String toString() {
            return type + " ttl:" + (pttl < 0 ? pttl + "" : pttl + "ms") + " " + content;
        }
    }

    /**
     * The two sides read a key's expiry at different moments (a few ms apart, longer on a loaded machine): the same
     * type and value and an expiry within {@link #TTL_TOLERANCE_MS} of each other are the same key. Rounding both to
     * minutes failed whenever the two reads straddled a half minute.
     */
    static int compareSeen(Object a, Object b) {
        if (a instanceof Seen x && b instanceof Seen y) {
            boolean ttlSame = x.pttl() < 0 || y.pttl() < 0 ? x.pttl() == y.pttl() : Math.abs(x.pttl() - y.pttl()) <= TTL_TOLERANCE_MS;
            return x.type().equals(y.type()) && x.content().equals(y.content()) && ttlSame ? 0 : 1;
        }
        return java.util.Objects.equals(a, b) ? 0 : 1;
    }

    static final long TTL_TOLERANCE_MS = 2_000;

    /** A key's value read by type, with its remaining time to live. */
    static Object value(Object side, byte[] key) {
        JedisBinaryCommands b = (JedisBinaryCommands) side;
        JedisCommands c = (JedisCommands) side;
        String k = new String(key, StandardCharsets.ISO_8859_1);
        String type = b.type(key);
        long pttl = b.pttl(key);
        Object v = switch (type) {
            case "string" -> Arrays.toString(b.get(key));
            case "hash" -> new TreeMap<>(c.hgetAll(k));
            case "list" -> c.lrange(k, 0, -1);
            case "set" -> new TreeSet<>(c.smembers(k));
            case "zset" -> c.zrangeWithScores(k, 0, -1).toString();
            case "stream" -> c.xrange(k, (StreamEntryID) null, (StreamEntryID) null).toString() + c.xinfoGroups(k).stream()
                    .map(g -> g.getName() + "@" + g.getLastDeliveredId() + " pending " + g.getPending()).toList();
            default -> type;
        };
        return new Seen(type, pttl, String.valueOf(v));
    }
}
