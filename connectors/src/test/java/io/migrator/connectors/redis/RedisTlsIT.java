package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.connectors.redis.RedisData.Running;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.spi.Role;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.SandboxTls;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * TLS to Redis (ElastiCache in-transit encryption): a plan pointed at the sandbox servers' TLS ports (which speak nothing
 * else) with verify-full and a client certificate syncs in full, streams by PSYNC over TLS and passes key parity; the
 * target then equals the source key by key, read over the plain ports. A wrong CA, TLS against a plain port and plain text
 * against a TLS port each fail with what to change.
 */
@ExtendWith(SandboxExtension.class)
@Timeout(300)
class RedisTlsIT {
    private static final int DB = 11;

    @TempDir
    Path tmp;

    private static Plan plan(String name, SandboxEndpoint source, int sourcePort, String sourceTls, SandboxEndpoint target, int targetPort,
                             String targetTls) {
        String yaml = """
                name: %s
                source: {engine: redis, host: %s, port: %d, password: "${env:PW}", databases: [%d], tls: %s}
                target: {engine: redis, host: %s, port: %d, password: "${env:PW}", tls: %s}
                """.formatted(name, source.host(), sourcePort, DB, sourceTls, target.host(), targetPort, targetTls);
        return new PlanLoader(Map.of("PW", source.password())).parse(name + ".yaml", yaml, Path.of("."));
    }

    private static void flush(SandboxEndpoint e) {
        for (int db : List.of(0, DB)) {
            try (Jedis j = RedisData.jedis(e, db)) {
                j.flushDB();
            }
        }
    }

    @Test
    void syncsAndStreamsOverVerifiedTlsWithAClientCertificate(SandboxServers servers) throws Exception {
        SandboxEndpoint source = servers.redisSource();
        SandboxEndpoint target = servers.redisTarget();
        SandboxTls tls = SandboxTls.ensure(servers.sandbox().dir(), System.out);
        flush(source);
        flush(target);
        try (Jedis s = RedisData.jedis(source, DB)) {
            RedisData.seed(s, "tls:", 1500, false);
        }
        String verified = "{ca: '%s', cert: '%s', key: '%s'}".formatted(tls.ca(), tls.clientCert(), tls.clientKey());
        Plan plan = plan("redis-tls", source, source.port() + SandboxTls.REDIS_TLS_PORT_OFFSET, verified,
                target, target.port() + SandboxTls.REDIS_TLS_PORT_OFFSET, verified);
        assertThat(new RedisConnector().probe(plan.source(), Role.SOURCE, Duration.ofSeconds(10)).product()).isEqualTo("Redis");
        Running running = RedisData.start(plan);
        try {
            RedisData.await("streaming", running, () -> running.worker().status().phase() == Phase.STREAMING);
            try (Jedis s = RedisData.jedis(source, DB)) {
                for (int i = 0; i < 500; i++) {
                    s.set("tls:streamed:" + i, "v" + i);
                    s.incr("tls:counter");
                }
                s.del("tls:streamed:7");
            }
            RedisData.awaitCaughtUp(source, running);
            try (Jedis s = RedisData.jedis(source, DB); Jedis t = RedisData.jedis(target, DB)) {
                assertThat(t.get("tls:counter")).isEqualTo("500");
                RedisData.assertSame(s, key -> RedisData.value(t, key), RedisData.keys(t, "tls:"), "tls:", "over TLS");
            }
            assertThat(new RedisKeyParity(plan).validate(false).ok()).as("key parity, itself over TLS").isTrue();
        } finally {
            running.halt();
            RedisStoredState.forget(plan);
        }
    }

    @Test
    void aWrongCaATlsPlanOnAPlainPortAndPlainTextOnATlsPortEachSayWhatToChange(SandboxServers servers) throws Exception {
        SandboxEndpoint source = servers.redisSource();
        SandboxEndpoint target = servers.redisTarget();
        int tlsPort = source.port() + SandboxTls.REDIS_TLS_PORT_OFFSET;
        Path wrongCa = SandboxTls.makeCa(Files.createDirectories(tmp.resolve("other-ca")), "not the sandbox CA");
        RedisConnector connector = new RedisConnector();

        Plan wrong = plan("redis-tls-ca", source, tlsPort, "{ca: '" + wrongCa + "'}", target, target.port(), "disable");
        assertThatThrownBy(() -> connector.probe(wrong.source(), Role.SOURCE, Duration.ofSeconds(10)))
                .isInstanceOfSatisfying(MigratorException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.CANNOT_CONNECT);
                    assertThat(e.getMessage()).contains("no authority in source.tls.ca (" + wrongCa + ") signed");
                    assertThat(e.remedy()).contains("set source.tls.ca");
                });
        Plan plainPort = plan("redis-tls-plain", source, source.port(), "require", target, target.port(), "disable");
        assertThatThrownBy(() -> connector.probe(plainPort.source(), Role.SOURCE, Duration.ofSeconds(10)))
                .isInstanceOfSatisfying(MigratorException.class, e -> {
                    assertThat(e.getMessage()).contains("did not answer the TLS handshake");
                    assertThat(e.remedy()).contains("tls-port").contains("source.tls: disable");
                });
        Plan plainOnTls = plan("redis-plain-tls", source, tlsPort, "disable", target, target.port(), "disable");
        assertThatThrownBy(() -> connector.probe(plainOnTls.source(), Role.SOURCE, Duration.ofSeconds(5)))
                .isInstanceOfSatisfying(MigratorException.class, e -> assertThat(e.remedy()).contains("source.tls: verify-full"));
    }
}
