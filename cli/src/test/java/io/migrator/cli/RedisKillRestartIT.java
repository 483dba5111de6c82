package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Transaction;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;

/**
 * Redis → Redis: the worker ({@code java -Xmx512m -jar migrator.jar run}) is killed with SIGKILL at random moments of the
 * full sync and of the stream while a writer sends commands that are not idempotent (INCR, RPUSH, HINCRBY, APPEND,
 * MULTI/EXEC transfers between counters). A command applied twice or lost shows as a different value. After the last
 * restart and a SIGTERM (exit 0) every key of both databases equals the source's, read by type. The same runs into the
 * 3-node cluster target, where a batch is one MULTI/EXEC per slot and a kill can land between two of them.
 * {@code -Dmigrator.kills=N} sets the number of kills (default 6; 4 into the cluster).
 */
@ExtendWith(SandboxExtension.class)
class RedisKillRestartIT {
    private List<Integer> dbs = List.of(10, 11);
    private String name = "redis-kill";

    private SandboxEndpoint source;
    private SandboxEndpoint target;
    private boolean cluster;

    /** The target as the test reads it: one database of a standalone server, or the whole cluster. */
    private static final class Side implements AutoCloseable {
        private final redis.clients.jedis.commands.JedisCommands commands;
        private final java.util.function.Function<String, List<String>> keys;
        private final java.util.function.Function<List<String>, List<String>> values;
        private final AutoCloseable connection;

        Side(redis.clients.jedis.commands.JedisCommands commands, java.util.function.Function<String, List<String>> keys,
                java.util.function.Function<List<String>, List<String>> values, AutoCloseable connection) {
            this.commands = commands;
            this.keys = keys;
            this.values = values;
            this.connection = connection;
        }

        List<String> keys(String prefix) {
            return keys.apply(prefix);
        }

        List<String> values(List<String> of) {
            return values.apply(of);
        }

        String hget(String key, String field) {
            return commands.hget(key, field);
        }

        long llen(String key) {
            return commands.llen(key);
        }

        @Override
        public void close() {
            try {
                connection.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private Side side(int db) {
        if (!cluster) {
            Jedis j = jedis(target, db);
            return new Side(j, prefix -> keys(j, prefix), of -> values(j::pipelined, of), j);
        }
        redis.clients.jedis.JedisCluster c = clusterClient();
        return new Side(c, prefix -> {
            List<String> out = new ArrayList<>();
            forEachMaster(c, node -> out.addAll(keys(node, prefix)));
            return out;
        }, of -> values(c::pipelined, of), c);
    }

    private redis.clients.jedis.JedisCluster clusterClient() {
        return new redis.clients.jedis.JedisCluster(java.util.Set.of(new redis.clients.jedis.HostAndPort(target.host(), target.port())),
                redis.clients.jedis.DefaultJedisClientConfig.builder().password(target.password()).build());
    }

    private static void forEachMaster(redis.clients.jedis.JedisCluster c, java.util.function.Consumer<Jedis> action) {
        for (redis.clients.jedis.ConnectionPool pool : c.getClusterNodes().values()) {
            try (Jedis node = new Jedis(pool.getResource())) {
                if ("master".equals(String.valueOf(node.role().get(0)))) {
                    action.accept(node);
                }
            }
        }
    }

    private void flushTarget() {
        if (cluster) {
            try (redis.clients.jedis.JedisCluster c = clusterClient()) {
                forEachMaster(c, Jedis::flushAll);
            }
            return;
        }
        for (int db : dbs) {
            try (Jedis j = jedis(target, db)) {
                j.flushDB();
            }
        }
        try (Jedis t = jedis(target, 0)) {
            for (String key : keys(t, "__migrator__:" + name + ":")) {
                t.del(key);
            }
        }
    }

    private void flushSource() {
        for (int db : dbs) {
            try (Jedis j = jedis(source, db)) {
                j.flushDB();
            }
        }
    }

    private static Jedis jedis(SandboxEndpoint e, int db) {
        Jedis j = new Jedis(e.host(), e.port(), 30_000);
        j.auth(e.password());
        j.select(db);
        return j;
    }

    @Test
    void killNineAtRandomMomentsLosesNothingAndDuplicatesNothing(SandboxServers servers) throws Exception {
        source = servers.redisSource();
        target = servers.redisTarget();
        killAndCompare(Integer.getInteger("migrator.kills", 6), 120_000);
    }

    @Test
    void killNineIntoAClusterTargetLosesNothingAndDuplicatesNothing(SandboxServers servers) throws Exception {
        source = servers.redisSource();
        target = servers.redisCluster();
        cluster = true;
        dbs = List.of(0); // a cluster has database 0 only
        name = "redis-kill-cluster";
        killAndCompare(Integer.getInteger("migrator.kills", 4), 60_000);
    }

    private void killAndCompare(int kills, int keys) throws Exception {
        assertThat(KillLoop.JAR).as("the shaded jar is built in the package phase").exists();
        flushSource();
        flushTarget();
        try (Jedis s = jedis(source, dbs.get(0)); Pipeline p = s.pipelined()) {
            for (int i = 0; i < keys; i++) {
                p.set("k:" + i, "v" + i);
                if (i % 100 == 0) {
                    p.hset("h:" + i, Map.of("n", "0", "f", "x"));
                    p.rpush("l:" + i, "a");
                }
            }
            p.sync();
        }
        Path plan = Files.createTempFile(Path.of("target"), "redis-kill-", ".yaml");
        Files.writeString(plan, """
                name: %s
                source: {engine: redis, host: %s, port: %d, password: "${env:KILL_IT_PW}", databases: %s}
                target: {engine: redis, host: %s, port: %d, password: "${env:KILL_IT_PW}", cluster: %s}
                snapshot: {maxRowsPerSecond: %d}
                """.formatted(name, source.host(), source.port(), dbs, target.host(), target.port(), cluster, keys / 3));

        AtomicBoolean stopWriter = new AtomicBoolean();
        AtomicReference<Throwable> writerError = new AtomicReference<>();
        AtomicLong writes = new AtomicLong();
        Thread writer = new Thread(() -> write(stopWriter, writes, writerError, keys), "writer");
        writer.start();

        Random random = new Random(Long.getLong("migrator.seed", System.nanoTime()));
        KillLoop loop = new KillLoop(name, Map.of("KILL_IT_PW", source.password()), this::phase);
        try {
            loop.kill(plan, kills, random, new KillLoop.Window() {
                private long journal;

                @Override
                public void beforeStart(int round) {
                    journal = journalLength();
                }

                @Override
                public long open(Process worker, int round) throws Exception {
                    return round < 2 ? untilFullSyncBegins(worker, journal) // the first two once this worker began a full sync
                            : loop.untilPast(worker, "none", "PREFLIGHT", "SNAPSHOT");
                }
            });
            stopWriter.set(true);
            writer.join();
            assertThat(writerError.get()).isNull();

            long goal = masterOffset();
            loop.finish(plan, kills, () -> checkpointOffset() >= goal, Long.toString(goal));

            assertThat(writes.get()).isGreaterThan(1000);
            assertThat(loop.phasesKilledIn).as("kill points: %s", loop.log).contains("SNAPSHOT").containsAnyOf("CATCH_UP", "STREAMING");
            for (int db : dbs) {
                assertSame(db, loop.log);
            }

            // complete: the bookkeeping goes, the keys stay
            ProcessBuilder completing = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                    KillLoop.JAR.toString(), "complete", plan.toString(), "-o", "json").redirectErrorStream(true)
                    .redirectOutput(new File("target/redis-kill-complete.log"));
            completing.environment().put("KILL_IT_PW", source.password());
            Process complete = completing.start();
            complete.getOutputStream().close();
            assertThat(complete.waitFor(60, TimeUnit.SECONDS)).isTrue();
            String report = Files.readString(Path.of("target/redis-kill-complete.log"));
            assertThat(complete.exitValue()).as(report).isZero();
            assertThat(report).containsPattern("\"ok\"\\s*:\\s*true").contains("bookkeeping keys");
            try (Side bookkeeping = side(0); Side migrated = side(dbs.get(0))) {
                assertThat(bookkeeping.keys("__migrator__:" + name + ":")).as("bookkeeping left").isEmpty();
                assertThat(migrated.keys("k:").size()).as("the migrated keys stay").isGreaterThan(keys / 2);
            }
        } finally {
            stopWriter.set(true);
            writer.join(10_000);
            flushSource();
            flushTarget();
        }
    }

    /** Polls the journal until this worker has added its full-sync entry; returns the milliseconds waited. */
    private long untilFullSyncBegins(Process worker, long journalBefore) throws Exception {
        long started = System.currentTimeMillis();
        while (System.currentTimeMillis() - started < 60_000 && worker.isAlive() && journalLength() <= journalBefore) {
            Thread.sleep(20);
        }
        return System.currentTimeMillis() - started;
    }

    private long journalLength() {
        try (Side t = side(0)) {
            return t.llen("__migrator__:" + name + ":journal");
        }
    }

    private String phase() {
        try (Side t = side(0)) {
            String p = t.hget("__migrator__:" + name + ":checkpoint", "phase");
            return p == null ? "none" : p;
        }
    }

    private long checkpointOffset() {
        try (Side t = side(0)) {
            String o = t.hget("__migrator__:" + name + ":checkpoint", "offset");
            String p = t.hget("__migrator__:" + name + ":checkpoint", "phase");
            return o == null || "SNAPSHOT".equals(p) ? -1 : Long.parseLong(o);
        }
    }

    private long masterOffset() {
        try (Jedis s = jedis(source, 0)) {
            for (String line : s.info("replication").split("\r?\n")) {
                if (line.startsWith("master_repl_offset:")) {
                    return Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                }
            }
        }
        throw new AssertionError("no master_repl_offset");
    }

    /** Commands that are not idempotent: replaying one, or losing one, changes a value. */
    private void write(AtomicBoolean stop, AtomicLong writes, AtomicReference<Throwable> error, int keys) {
        Random random = new Random();
        try (Jedis a = jedis(source, dbs.get(0)); Jedis b = jedis(source, dbs.get(dbs.size() - 1))) {
            while (!stop.get()) {
                int i = random.nextInt(keys);
                Jedis j = random.nextInt(4) == 0 ? b : a;
                switch (random.nextInt(8)) {
                    case 0 -> j.incr("ctr:" + random.nextInt(20));
                    case 1 -> j.rpush("l:" + (i / 100 * 100), "p" + i);
                    case 2 -> j.hincrBy("h:" + (i / 100 * 100), "n", 1);
                    case 3 -> j.append("k:" + i, "+");
                    case 4 -> j.del("k:" + i);
                    case 5 -> {
                        Transaction tx = j.multi();
                        tx.incrBy("acct:" + random.nextInt(10), 5);
                        tx.decrBy("acct:" + random.nextInt(10), 5);
                        tx.exec();
                    }
                    case 6 -> j.set("k:" + i, "new" + random.nextInt());
                    default -> j.lpop("l:" + (i / 100 * 100));
                }
                writes.incrementAndGet();
                if (writes.get() % 200 == 0) {
                    Thread.sleep(5); // a steady stream, not a flood: the kill points should see both phases
                }
            }
        } catch (Throwable e) {
            error.set(e);
        }
    }

    private static List<String> keys(Jedis j, String prefix) {
        List<String> out = new ArrayList<>();
        String cursor = ScanParams.SCAN_POINTER_START;
        do {
            ScanResult<String> page = j.scan(cursor, new ScanParams().count(1000).match(prefix + "*"));
            cursor = page.getCursor();
            out.addAll(page.getResult());
        } while (!cursor.equals(ScanParams.SCAN_POINTER_START));
        return out;
    }

    /** Values by type for a batch of keys, read in two pipelined round trips. */
    private static List<String> values(java.util.function.Supplier<? extends redis.clients.jedis.AbstractPipeline> pipeline, List<String> keys) {
        List<redis.clients.jedis.Response<String>> types = new ArrayList<>();
        try (redis.clients.jedis.AbstractPipeline p = pipeline.get()) {
            keys.forEach(k -> types.add(p.type(k)));
            p.sync();
        }
        List<redis.clients.jedis.Response<?>> reads = new ArrayList<>();
        try (redis.clients.jedis.AbstractPipeline p = pipeline.get()) {
            for (int i = 0; i < keys.size(); i++) {
                String k = keys.get(i);
                reads.add(switch (types.get(i).get()) {
                    case "string" -> p.get(k);
                    case "hash" -> p.hgetAll(k);
                    case "list" -> p.lrange(k, 0, -1);
                    default -> p.type(k);
                });
            }
            p.sync();
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            Object v = reads.get(i).get();
            out.add(types.get(i).get() + ":" + (v instanceof Map<?, ?> m ? new TreeMap<>(m) : v));
        }
        return out;
    }

    private void assertSame(int db, List<String> log) {
        try (Jedis s = jedis(source, db); Side t = side(db)) {
            TreeSet<String> sourceKeys = new TreeSet<>(keys(s, ""));
            TreeSet<String> targetKeys = new TreeSet<>(t.keys(""));
            targetKeys.removeIf(k -> k.startsWith("__migrator__:"));
            assertThat(sourceKeys).as("db%d has data", db).isNotEmpty();
            assertThat(targetKeys.size()).as("db%d key count; %s", db, log).isEqualTo(sourceKeys.size());
            assertThat(targetKeys).as("db%d keys; %s", db, log).isEqualTo(sourceKeys);
            List<String> all = new ArrayList<>(sourceKeys);
            List<String> different = new ArrayList<>();
            for (int from = 0; from < all.size(); from += 1000) {
                List<String> batch = all.subList(from, Math.min(all.size(), from + 1000));
                List<String> sv = values(s::pipelined, batch);
                List<String> tv = t.values(batch);
                for (int i = 0; i < batch.size(); i++) {
                    if (!sv.get(i).equals(tv.get(i))) {
                        different.add(batch.get(i) + ": source " + sv.get(i) + ", target " + tv.get(i));
                    }
                }
            }
            assertThat(different).as("db%d values differing; %s", db, log).isEmpty();
        }
    }
}
