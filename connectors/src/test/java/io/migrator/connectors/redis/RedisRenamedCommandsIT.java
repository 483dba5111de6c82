package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.spi.Assessment;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A Redis target whose operators renamed or disabled commands the applier needs (`rename-command RESTORE ""` is a common
 * hardening): the preflight names each missing one instead of the full sync failing on its first key. Its own throwaway
 * server, since rename-command is read at start only.
 */
@ExtendWith(SandboxExtension.class)
class RedisRenamedCommandsIT {
    @TempDir
    Path dir;

    @Test
    void aTargetWithRestoreAndEvalRenamedIsRefusedNamingThem(SandboxServers servers) throws Exception {
        SandboxEndpoint source = servers.redisSource();
        Path redisServer = List.of(Path.of("/usr/bin/redis-server"), Path.of("/usr/local/bin/redis-server")).stream()
                .filter(Files::isExecutable).findFirst().orElseThrow(() -> new AssertionError("redis-server is not installed"));
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Process server = new ProcessBuilder(redisServer.toString(), "--port", Integer.toString(port), "--bind", "127.0.0.1", "--save", "",
                "--dir", dir.toString(), "--rename-command", "RESTORE", "", "--rename-command", "EVAL", "renamed-eval")
                .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
        try {
            Jedis hardened = awaitPing(port);
            String yaml = """
                    name: renamed
                    source: {engine: redis, host: %s, port: %d, password: "${env:PW}"}
                    target: {engine: redis, host: 127.0.0.1, port: %d}
                    """.formatted(source.host(), source.port(), port);
            Plan plan = new PlanLoader(Map.of("PW", source.password())).parse("r.yaml", yaml, Path.of("."));
            Assessment refused = RedisPreflight.commands(plan, hardened);
            assertThat(refused.severity()).isEqualTo(Assessment.Severity.FAIL);
            assertThat(refused.finding()).contains("the target lacks RESTORE, EVAL").doesNotContain("MULTI");
            assertThat(refused.remedy()).contains("restore them in the target's configuration");
            hardened.close();

            // the sandbox's own target has them all
            try (Jedis full = RedisData.jedis(servers.redisTarget(), 0)) {
                assertThat(RedisPreflight.commands(plan, full).severity()).isEqualTo(Assessment.Severity.OK);
            }
        } finally {
            server.destroy();
            server.waitFor();
        }
    }

    private static Jedis awaitPing(int port) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 20_000;
        while (true) {
            try {
                Jedis j = new Jedis("127.0.0.1", port, 2_000);
                j.ping();
                return j;
            } catch (RuntimeException e) {
                if (System.currentTimeMillis() > deadline) {
                    throw new AssertionError("the throwaway redis-server did not answer on " + port, e);
                }
                Thread.sleep(100);
            }
        }
    }
}
