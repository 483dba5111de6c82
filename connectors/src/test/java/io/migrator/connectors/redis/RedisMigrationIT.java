package io.migrator.connectors.redis;

import static io.migrator.connectors.redis.RedisData.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.connectors.redis.RedisData.Running;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.ConnectionPool;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisCluster;

/**
 * Redis → Redis through the worker, against the sandbox servers: a full sync and the replication stream while a writer
 * changes every type; restarts that continue with PSYNC (exactly once: counters and lists would show a replayed command);
 * a backlog too small for the gap, which falls back to a full resync that removes keys deleted meanwhile; a cluster target
 * with slot routing and split multi-key commands; and the bad inputs (a target that is not empty, a cross-slot RENAME).
 * Equality is read from both servers by type, not with migrator's validator (which is checked too).
 */
@ExtendWith(SandboxExtension.class)
@Timeout(300)
class RedisMigrationIT {
    private SandboxEndpoint source;

    private Plan plan(String name, SandboxEndpoint target, List<Integer> dbs, boolean cluster, String extra) {
        String yaml = """
                name: %s
                source: {engine: redis, host: %s, port: %d, password: "${env:PW}", databases: %s}
                target: {engine: redis, host: %s, port: %d, password: "${env:PW}", cluster: %s}
                %s
                """.formatted(name, source.host(), source.port(), dbs, target.host(), target.port(), cluster, extra);
        return new PlanLoader(Map.of("PW", source.password())).parse(name + ".yaml", yaml, Path.of("."));
    }

    private static void await(String what, Duration timeout, Running running, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (running != null && running.failure().get() != null) {
                throw new AssertionError("the worker failed while waiting for " + what, running.failure().get());
            }
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("timed out waiting for " + what + (running == null ? "" : ": " + running.worker().status()));
    }

    /** Applied everything the source wrote: the checkpoint reached the source's replication offset, nothing queued. */
    private void awaitCaughtUp(Running running) throws InterruptedException {
        long goal;
        try (Jedis s = RedisData.jedis(source, 0)) {
            goal = Long.parseLong(RedisConnector.parseInfo(s.info("replication")).get("master_repl_offset"));
        }
        await("the stream to reach offset " + goal, Duration.ofSeconds(60), running, () -> {
            MigrationStatus st = running.worker().status();
            String position = st.applied().position();
            return !position.isEmpty() && Long.parseLong(position.substring(position.indexOf(':') + 1)) >= goal && st.lag().events() == 0;
        });
    }

    /** Leaves the shared sandbox as it found it: the test databases of both sides empty, the cluster too. */
    @org.junit.jupiter.api.AfterEach
    void cleanUp(SandboxServers servers) {
        flush(servers.redisSource(), List.of(0, 2, 3, 4, 7, 8, 9, 15));
        flush(servers.redisTarget(), List.of(0, 2, 3, 4, 7, 8, 9, 15));
        flushCluster(servers.redisCluster());
    }

    private void flushCluster(SandboxEndpoint cluster) {
        try (JedisCluster c = new JedisCluster(java.util.Set.of(new redis.clients.jedis.HostAndPort(cluster.host(), cluster.port())),
                redis.clients.jedis.DefaultJedisClientConfig.builder().password(cluster.password()).build())) {
            for (ConnectionPool pool : c.getClusterNodes().values()) {
                try (Jedis node = new Jedis(pool.getResource())) {
                    if ("master".equals(String.valueOf(node.role().get(0)))) {
                        node.flushAll();
                    }
                }
            }
        }
    }

    private void flush(SandboxEndpoint e, List<Integer> dbs) {
        for (int db : dbs) {
            try (Jedis j = RedisData.jedis(e, db)) {
                j.flushDB();
            }
        }
    }

    private void assertStandaloneSame(SandboxEndpoint target, List<Integer> dbs, String prefix) {
        for (int db : dbs) {
            try (Jedis s = RedisData.jedis(source, db); Jedis t = RedisData.jedis(target, db)) {
                RedisData.assertSame(s, key -> RedisData.value(t, key), RedisData.keys(t, ""), prefix, "db" + db);
            }
        }
    }

    @Test
    void everyTypeArrivesThroughFullSyncAndStreamAndRestartsContinueExactlyOnce(SandboxServers servers) throws Exception {
        source = servers.redisSource();
        SandboxEndpoint target = servers.redisTarget();
        List<Integer> dbs = List.of(2, 3);
        flush(source, dbs);
        flush(target, List.of(0, 2, 3));
        try (Jedis s2 = RedisData.jedis(source, 2); Jedis s3 = RedisData.jedis(source, 3); Jedis s4 = RedisData.jedis(source, 4)) {
            RedisData.seed(s2, "m:", 2000, true);
            RedisData.seed(s3, "m:", 300, false);
            s4.set("m:not-in-plan", "stays behind");
        }
        Plan plan = plan("redis-it", target, dbs, false, "");
        AtomicBoolean writing = new AtomicBoolean();
        AtomicLong writes = new AtomicLong();
        AtomicReference<Throwable> writerError = new AtomicReference<>();
        Thread writer = RedisData.writer(source, dbs, "m:", 2000, writing, writes, 42, writerError);
        Running first = start(plan);
        await("streaming", Duration.ofSeconds(120), first, () -> first.worker().status().phase() == Phase.STREAMING);
        MigrationStatus afterSync = first.worker().status();
        assertThat(afterSync.snapshot().rowsCopied()).as("keys restored by the full sync").isGreaterThan(2000 * 6);
        assertThat(afterSync.snapshot().tablesDone()).isEqualTo(2);
        Thread.sleep(1500);
        first.halt(); // SIGTERM-like stop while the writer goes on

        Thread.sleep(500);
        Running second = start(plan);
        await("the restart's stream", Duration.ofSeconds(60), second, () -> second.worker().status().phase() == Phase.STREAMING);
        assertThat(second.worker().status().phases()).as("the restart continued with PSYNC, no new full sync")
                .anyMatch(p -> p.detail().startsWith("partial resync"));
        Thread.sleep(1500);
        writing.set(true);
        writer.join(10_000);
        awaitCaughtUp(second);
        assertThat(writerError.get()).as("the writer ran to the end").isNull();
        assertThat(writes.get()).as("the writer wrote during sync and streaming").isGreaterThan(1000);
        assertStandaloneSame(target, dbs, "m:");
        try (Jedis t4 = RedisData.jedis(target, 4)) {
            assertThat(t4.exists("m:not-in-plan")).as("a database outside the plan stays behind").isFalse();
        }
        assertThat(new RedisKeyParity(plan).validate(false).ok()).as("migrator's own key parity agrees").isTrue();
        // the source PINGs its replicas every 10 s: one may be on its way (14 bytes behind) when the status is read
        await("no byte behind", Duration.ofSeconds(10), second, () -> second.worker().status().lag().bytes() == 0);
        MigrationStatus status = second.worker().status();
        assertThat(status.lag().seconds()).as("lag once caught up").isNotNull().isLessThan(2.0);
        second.halt();
        // read after the stop: a batch can be in flight when the status above is read (the source's periodic PING is one),
        // and the stop confirms it, so the stopped worker's position is the one the target must hold
        MigrationStatus stopped = second.worker().status();

        // the stored status, read from the target's bookkeeping, and `complete` removing it
        MigrationStatus stored = RedisStoredState.stored(plan);
        assertThat(stored.phase()).isEqualTo(Phase.STREAMING);
        assertThat(stored.applied().position()).isEqualTo(stopped.applied().position());
        for (MigrationStatus.TableProgress db : stored.snapshot().tables()) { // the keys each database holds on the target
            try (Jedis t = RedisData.jedis(target, Integer.parseInt(db.table().substring(2)))) {
                assertThat(db.rowsCopied()).as(db.table()).isEqualTo(t.dbSize()).isGreaterThan(0);
            }
        }
        assertThat(RedisStoredState.forget(plan)).hasSize(1);
        try (Jedis t0 = RedisData.jedis(target, 0)) {
            assertThat(RedisData.keys(t0, "__migrator__:redis-it")).as("bookkeeping removed").isEmpty();
        }
        assertStandaloneSame(target, dbs, "m:");
    }

    /**
     * One database of the sandbox pair: emptied on the source and on the target (with the target's db 0, where the
     * bookkeeping lives), then seeded on the source with {@code keys} keys of every type. Returns the target.
     */
    private SandboxEndpoint seededPair(SandboxServers servers, int db, String prefix, int keys) {
        source = servers.redisSource();
        SandboxEndpoint target = servers.redisTarget();
        flush(source, List.of(db));
        flush(target, List.of(0, db));
        try (Jedis s = RedisData.jedis(source, db)) {
            RedisData.seed(s, prefix, keys, false);
        }
        return target;
    }

    @Test
    void aBacklogTooSmallFallsBackToAFullResyncThatRemovesKeysDeletedMeanwhile(SandboxServers servers) throws Exception {
        List<Integer> dbs = List.of(7);
        SandboxEndpoint target = seededPair(servers, 7, "b:", 500);
        Plan plan = plan("redis-resync", target, dbs, false, "");
        Running first = start(plan);
        await("streaming", Duration.ofSeconds(60), first, () -> first.worker().status().phase() == Phase.STREAMING);
        first.halt();
        String backlog;
        try (Jedis s = RedisData.jedis(source, 7)) {
            backlog = s.configGet("repl-backlog-size").get("repl-backlog-size");
            s.configSet("repl-backlog-size", "16384");
            try {
                for (int i = 0; i < 200; i++) {
                    s.del("b:str:" + i); // deleted while no worker runs
                }
                s.incrBy("b:ctr:1", 1000);
                long applied = Long.parseLong(RedisStoredState.stored(plan).applied().position().replaceAll("^.*:", ""));
                // write until the backlog no longer holds the checkpoint (the source trims it a block at a time)
                for (int round = 0; round < 200 && backlogStart(s) <= applied + 1; round++) {
                    for (int i = 0; i < 100; i++) {
                        s.set("b:fill:" + (i % 50), "x".repeat(10_000));
                    }
                }
                assertThat(backlogStart(s)).as("the backlog lost the checkpoint's offset").isGreaterThan(applied + 1);
                Running second = start(plan);
                await("the full resync to finish", Duration.ofSeconds(60), second,
                        () -> second.worker().status().phases().stream().anyMatch(p -> p.detail().startsWith("full resync"))
                                && second.worker().status().phase() == Phase.STREAMING);
                awaitCaughtUp(second);
                second.halt();
            } finally {
                s.configSet("repl-backlog-size", backlog);
            }
        }
        try (Jedis t = RedisData.jedis(target, 7)) {
            for (int i = 0; i < 200; i++) {
                assertThat(t.exists("b:str:" + i)).as("b:str:" + i + ", deleted on the source meanwhile, is removed").isFalse();
            }
        }
        assertStandaloneSame(target, dbs, "b:");
        RedisStoredState.forget(plan);
    }

    private static long backlogStart(Jedis s) {
        return Long.parseLong(RedisConnector.parseInfo(s.info("replication")).get("repl_backlog_first_byte_offset"));
    }

    @Test
    void aClusterTargetGetsKeysBySlotWithMultiKeyCommandsSplitAndResumesPerSlot(SandboxServers servers) throws Exception {
        source = servers.redisSource();
        SandboxEndpoint cluster = servers.redisCluster();
        flush(source, List.of(0));
        Plan plan = plan("redis-cluster-it", cluster, List.of(0), true, "");
        flushCluster(cluster);
        try (Jedis s = RedisData.jedis(source, 0)) {
            RedisData.seed(s, "c:", 500, true);
        }
        AtomicBoolean writing = new AtomicBoolean();
        AtomicLong writes = new AtomicLong();
        AtomicReference<Throwable> writerError = new AtomicReference<>();
        Thread writer = RedisData.writer(source, List.of(0), "c:", 500, writing, writes, 7, writerError);
        Running first = start(plan);
        await("streaming", Duration.ofSeconds(120), first, () -> first.worker().status().phase() == Phase.STREAMING);
        try (Jedis s = RedisData.jedis(source, 0)) {
            for (int i = 0; i < 50; i++) {
                s.mset("c:m:a" + i, "1", "c:m:b" + i, "2", "c:m:c" + i, "3"); // MSET across slots: split per key
                s.del("c:m:a" + i, "c:m:b" + i); // DEL across slots: split per key
            }
        }
        first.halt();
        Running second = start(plan);
        await("the restart's stream", Duration.ofSeconds(60), second, () -> second.worker().status().phase() == Phase.STREAMING);
        Thread.sleep(1000);
        writing.set(true);
        writer.join(10_000);
        assertThat(writerError.get()).as("the writer ran to the end").isNull();
        awaitCaughtUp(second);
        try (Jedis s = RedisData.jedis(source, 0); JedisCluster c = RedisConnector.cluster(plan.target(), Duration.ofSeconds(10))) {
            List<String> targetKeys = new ArrayList<>();
            for (ConnectionPool pool : c.getClusterNodes().values()) {
                try (Jedis node = new Jedis(pool.getResource())) {
                    if ("master".equals(String.valueOf(node.role().get(0)))) {
                        targetKeys.addAll(RedisData.keys(node, "c:"));
                    }
                }
            }
            RedisData.assertSame(s, key -> RedisData.value(c, key), targetKeys, "c:", "cluster");
        }
        assertThat(new RedisKeyParity(plan).validate(false).ok()).as("migrator's own key parity agrees").isTrue();

        // RENAME between two slots cannot run on a cluster: the stream stops, naming the command and the remedy
        try (Jedis s = RedisData.jedis(source, 0)) {
            s.set("c:rename:from", "v");
            s.rename("c:rename:from", "c:rename:to-another-slot");
        }
        await("the refusal", Duration.ofSeconds(30), null, () -> !second.thread().isAlive());
        assertThat(second.failure().get()).isInstanceOf(MigratorException.class)
                .hasMessageContaining("RENAME").hasMessageContaining("different cluster slots");
        assertThat(((MigratorException) second.failure().get()).remedy()).contains("hash tag");
        assertThat(second.worker().status().phase()).isEqualTo(Phase.FAILED);
        RedisStoredState.forget(plan);
    }

    @Test
    void droppedTargetConnectionsAreRecoveredWithoutLosingOrRepeatingABatch(SandboxServers servers) throws Exception {
        List<Integer> dbs = List.of(15);
        SandboxEndpoint target = seededPair(servers, 15, "d:", 300);
        Plan plan = plan("redis-drops", target, dbs, false, "");
        AtomicBoolean writing = new AtomicBoolean();
        AtomicLong writes = new AtomicLong();
        AtomicReference<Throwable> writerError = new AtomicReference<>();
        Running running = start(plan);
        await("streaming", Duration.ofSeconds(60), running, () -> running.worker().status().phase() == Phase.STREAMING);
        Thread writer = RedisData.writer(source, dbs, "d:", 300, writing, writes, 11, writerError);
        int killed = 0;
        try (Jedis t = RedisData.jedis(target, 0)) {
            for (int round = 0; round < 8; round++) {
                Thread.sleep(300);
                for (String client : t.clientList().split("\n")) { // the worker's connections, while batches are in flight
                    if (client.contains(" name=migrator ")) {
                        t.clientKill(redis.clients.jedis.params.ClientKillParams.clientKillParams()
                                .id(client.replaceAll("^id=(\\d+) .*$", "$1")));
                        killed++;
                    }
                }
            }
        }
        writing.set(true);
        writer.join(10_000);
        assertThat(writerError.get()).as("the writer ran to the end").isNull();
        assertThat(killed).as("target connections of the worker killed (some rounds fall in a reconnect)").isGreaterThanOrEqualTo(3);
        awaitCaughtUp(running);
        assertThat(running.worker().status().retries()).as("the worker reconnected").isGreaterThan(0);
        running.halt();
        assertStandaloneSame(target, dbs, "d:"); // counters and lists show a batch lost or applied twice
        RedisStoredState.forget(plan);
    }

    @Test
    void aTargetThatAlreadyHoldsKeysIsRefusedBeforeAnythingIsWritten(SandboxServers servers) {
        source = servers.redisSource();
        SandboxEndpoint target = servers.redisTarget();
        flush(target, List.of(0, 8));
        try (Jedis t = RedisData.jedis(target, 8)) {
            t.set("someone-elses", "data");
        }
        Plan plan = plan("redis-busy", target, List.of(8), false, "");
        assertThatThrownBy(() -> new RedisMigration(plan).run(new AtomicBoolean()))
                .isInstanceOfSatisfying(MigratorException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.PREFLIGHT_FAILED);
                    assertThat(e.getMessage()).contains("already holds 1 keys");
                    assertThat(e.remedy()).contains("empty");
                });
        try (Jedis t = RedisData.jedis(target, 8)) {
            assertThat(t.get("someone-elses")).isEqualTo("data");
            t.flushDB();
        }
        try (Jedis t0 = RedisData.jedis(target, 0)) {
            assertThat(RedisData.keys(t0, "__migrator__:redis-busy")).as("nothing written").isEmpty();
        }
    }

    @Test
    void keyPatternsChooseWhichKeysMove(SandboxServers servers) throws Exception {
        source = servers.redisSource();
        SandboxEndpoint target = servers.redisTarget();
        List<Integer> dbs = List.of(9);
        flush(source, dbs);
        flush(target, List.of(0, 9));
        try (Jedis s = RedisData.jedis(source, 9)) {
            s.set("k:session:1", "a");
            s.set("k:cache:1", "b");
            s.set("k:session:tmp:1", "c");
        }
        Plan plan = plan("redis-keys", target, dbs, false, "keys: {include: [\"k:session:*\"], exclude: [\"k:session:tmp:*\"]}");
        Running running = start(plan);
        await("streaming", Duration.ofSeconds(60), running, () -> running.worker().status().phase() == Phase.STREAMING);
        try (Jedis s = RedisData.jedis(source, 9)) {
            s.set("k:session:2", "d");
            s.set("k:cache:2", "e");
            s.del("k:session:1", "k:cache:1"); // one key in, one out: split, the one in is deleted
            s.set("k:session:3", "f");
        }
        awaitCaughtUp(running);
        running.halt();
        try (Jedis t = RedisData.jedis(target, 9)) {
            assertThat(new java.util.TreeSet<>(RedisData.keys(t, "k:"))).containsExactly("k:session:2", "k:session:3");
        }
        RedisStoredState.forget(plan);
    }
}
