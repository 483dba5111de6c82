package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.Jedis;

/**
 * Redis 7.0 into Redis 6.2 (the server binary embedded-redis 1.4.3 carries): 7.0 writes RDB 10 payloads (listpacks), which
 * 6.2 refuses to RESTORE; the worker re-encodes them for RDB 9, and the target then equals the source value by value.
 */
@ExtendWith(SandboxExtension.class)
@Timeout(180)
class RedisOlderTargetIT {
    private static final int PORT = 16398;
    private static final int DB = 14;

    @Test
    void payloadsAreReEncodedForAnOlderTarget(SandboxServers servers) throws Exception {
        SandboxEndpoint source = servers.redisSource();
        Path dir = Path.of("target", "redis62").toAbsolutePath();
        Files.createDirectories(dir);
        Path binary = dir.resolve("redis-server");
        try (InputStream in = RedisOlderTargetIT.class.getResourceAsStream("/redis-server-6.2.6-v5-linux-amd64")) {
            Assumptions.assumeTrue(in != null && System.getProperty("os.arch").matches("amd64|x86_64"),
                    "no Redis 6.2 binary for this platform in embedded-redis: the re-encoding test runs on linux-amd64");
            Files.copy(in, binary, StandardCopyOption.REPLACE_EXISTING);
        }
        binary.toFile().setExecutable(true);
        Process server = new ProcessBuilder(binary.toString(), "--port", Integer.toString(PORT), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--requirepass", source.password(), "--dir", dir.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
        try {
            String password = source.password();
            awaitPing(password);
            try (Jedis t = older(password, 0)) {
                assertThat(t.info("server")).contains("redis_version:6.2");
            }
            try (Jedis s = RedisData.jedis(source, DB)) {
                s.flushDB();
                RedisData.seed(s, "v:", 300, false); // small hashes, sets, sorted sets, lists: listpacks in 7.0, unknown to 6.2
            }
            Plan plan = new PlanLoader(Map.of("PW", source.password())).parse("older.yaml", """
                    name: redis-older
                    source: {engine: redis, host: %s, port: %d, password: "${env:PW}", databases: [%d]}
                    target: {engine: redis, host: 127.0.0.1, port: %d, password: "${env:PW}"}
                    """.formatted(source.host(), source.port(), DB, PORT), Path.of("."));
            RedisData.Running running = RedisData.start(plan);
            RedisMigration worker = running.worker();
            AtomicReference<Throwable> failure = running.failure();
            long deadline = System.currentTimeMillis() + 60_000;
            while (worker.status().phase() != Phase.STREAMING && System.currentTimeMillis() < deadline && failure.get() == null) {
                Thread.sleep(100);
            }
            assertThat(failure.get()).as("the worker runs").isNull();
            assertThat(worker.status().phase()).isEqualTo(Phase.STREAMING);
            try (Jedis s = RedisData.jedis(source, DB)) {
                s.hset("v:hash:1", "added", "later");
                s.zadd("v:zset:2", 9.5, "c");
                s.rpush("v:list:3", "tail");
                long goal = Long.parseLong(RedisConnector.parseInfo(s.info("replication")).get("master_repl_offset"));
                while (System.currentTimeMillis() < deadline + 30_000) {
                    String position = worker.status().applied().position();
                    if (!position.isEmpty() && Long.parseLong(position.substring(position.indexOf(':') + 1)) >= goal) {
                        break;
                    }
                    Thread.sleep(50);
                }
            }
            running.halt();
            assertThat(failure.get()).isNull();
            try (Jedis s = RedisData.jedis(source, DB); Jedis t = older(password, DB)) {
                RedisData.assertSame(s, key -> RedisData.value(t, key), RedisData.keys(t, ""), "v:", "Redis 6.2 target");
                assertThat(t.hget("v:hash:1", "added")).isEqualTo("later");
            }
            RedisStoredState.forget(plan);
        } finally {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
            try (Jedis s = RedisData.jedis(source, DB)) {
                s.flushDB();
            }
        }
    }

    private static Jedis older(String password, int db) {
        Jedis j = new Jedis("127.0.0.1", PORT, 30_000);
        j.auth(password);
        j.select(db);
        return j;
    }

    private static void awaitPing(String password) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            try (Jedis j = older(password, 0)) {
                j.ping();
                return;
            } catch (RuntimeException notYet) {
                Thread.sleep(100);
            }
        }
        throw new AssertionError("the Redis 6.2 server did not start; see target/redis62/redis.log");
    }
}
