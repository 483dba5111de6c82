package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.spi.Assessment;
import io.migrator.core.spi.Role;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.Jedis;

/** One test per Redis preflight failure: each names the problem and its remedy; a ready pair passes. */
@ExtendWith(SandboxExtension.class)
class RedisPreflightIT {
    private SandboxEndpoint source;
    private SandboxEndpoint target;

    private Plan plan(String user, String password, List<Integer> dbs) {
        String yaml = """
                name: redis-preflight
                source: {engine: redis, host: %s, port: %d, %s password: "${env:PW}", databases: %s}
                target: {engine: redis, host: %s, port: %d, password: "${env:TPW}"}
                """.formatted(source.host(), source.port(), user == null ? "" : "user: " + user + ",", dbs, target.host(), target.port());
        return new PlanLoader(Map.of("PW", password, "TPW", target.password())).parse("p.yaml", yaml, Path.of("."));
    }

    private static Assessment find(List<Assessment> all, String check) {
        return all.stream().filter(a -> a.check().equals(check)).findFirst().orElseThrow(() -> new AssertionError("no " + check + " in " + all));
    }

    @Test
    void eachProblemIsNamedWithItsRemedy(SandboxServers servers) throws Exception {
        source = servers.redisSource();
        target = servers.redisTarget();
        try (Jedis t = RedisData.jedis(target, 12); Jedis s = RedisData.jedis(source, 0)) {
            t.flushDB();
            // a ready pair
            List<Assessment> ready = RedisPreflight.check(plan(null, source.password(), List.of(12)), Role.TARGET, Duration.ofSeconds(5));
            assertThat(ready).allMatch(a -> a.severity() == Assessment.Severity.OK, "all ok: " + ready);
            assertThat(RedisPreflight.check(plan(null, source.password(), List.of(12)), Role.SOURCE, Duration.ofSeconds(5)))
                    .filteredOn(a -> a.check().equals("replication rights")).singleElement()
                    .satisfies(a -> assertThat(a.severity()).isEqualTo(Assessment.Severity.OK));

            // a user that may read but not replicate
            s.aclSetUser("preflight-reader", "on", ">reader-pw-1", "~*", "+@read", "+info", "+command", "+ping", "+acl|dryrun");
            try {
                Assessment rights = find(RedisPreflight.check(plan("preflight-reader", "reader-pw-1", List.of(12)), Role.SOURCE,
                        Duration.ofSeconds(5)), "replication rights");
                assertThat(rights.severity()).isEqualTo(Assessment.Severity.FAIL);
                assertThat(rights.finding()).contains("preflight-reader may not replicate");
                assertThat(rights.remedy()).contains("ACL SETUSER preflight-reader +psync +replconf");
            } finally {
                s.aclDelUser("preflight-reader");
            }

            // a target that refuses PSYNC (as ElastiCache does): no reverse replication; rollback.cache says what a rollback does
            t.aclSetUser("preflight-nopsync", "on", ">np-pw-1", "~*", "&*", "+@all", "-psync", "-sync");
            try {
                String yaml = """
                        name: redis-preflight
                        source: {engine: redis, host: %s, port: %d, password: "${env:PW}", databases: [12]}
                        target: {engine: redis, host: %s, port: %d, user: preflight-nopsync, password: np-pw-1}
                        cutover: {applicationUsers: [app]}
                        """.formatted(source.host(), source.port(), target.host(), target.port());
                Plan reverse = new PlanLoader(Map.of("PW", source.password())).parse("p.yaml", yaml, Path.of("."));
                Assessment refused = find(RedisPreflight.check(reverse, Role.TARGET, Duration.ofSeconds(5)), "rollback");
                assertThat(refused.severity()).isEqualTo(Assessment.Severity.FAIL);
                assertThat(refused.finding()).contains("user preflight-nopsync may not run there");
                assertThat(refused.remedy()).contains("rollback.cache: flush or keep");
                Plan policy = new PlanLoader(Map.of("PW", source.password())).parse("p.yaml", yaml + "rollback: {cache: flush}\n", Path.of("."));
                Assessment flush = find(RedisPreflight.check(policy, Role.TARGET, Duration.ofSeconds(5)), "rollback");
                assertThat(flush.severity()).isEqualTo(Assessment.Severity.OK);
                assertThat(flush.finding()).startsWith("rollback.cache: flush — no reverse stream after this cutover");
            } finally {
                t.aclDelUser("preflight-nopsync");
            }

            // a target database that already holds keys
            t.set("someone-elses", "x");
            Assessment empty = find(RedisPreflight.check(plan(null, source.password(), List.of(12)), Role.TARGET, Duration.ofSeconds(5)),
                    "empty target");
            assertThat(empty.severity()).isEqualTo(Assessment.Severity.FAIL);
            assertThat(empty.finding()).contains("database 12 already holds 1 keys");
            assertThat(empty.remedy()).contains("FLUSHDB");
            t.flushDB();

            // a target without room for the source's data, and one that would evict keys
            String max = t.configGet("maxmemory").get("maxmemory");
            String policy = t.configGet("maxmemory-policy").get("maxmemory-policy");
            long used = Long.parseLong(RedisConnector.parseInfo(t.info("memory")).get("used_memory"));
            t.configSet("maxmemory", Long.toString(used + 4096));
            t.configSet("maxmemory-policy", "allkeys-lru");
            try {
                s.set("preflight:data", "x".repeat(100_000)); // the source holds data
                List<Assessment> full = RedisPreflight.check(plan(null, source.password(), List.of(12)), Role.TARGET, Duration.ofSeconds(5));
                Assessment memory = find(full, "memory");
                assertThat(memory.severity()).isEqualTo(Assessment.Severity.FAIL);
                assertThat(memory.remedy()).contains("more memory");
                Assessment eviction = find(full, "eviction");
                assertThat(eviction.severity()).isEqualTo(Assessment.Severity.WARN);
                assertThat(eviction.remedy()).contains("noeviction");
            } finally {
                t.configSet("maxmemory", max);
                t.configSet("maxmemory-policy", policy);
                s.del("preflight:data");
            }

            // a backlog that holds less than a minute of the writes measured now
            String backlog = s.configGet("repl-backlog-size").get("repl-backlog-size");
            s.configSet("repl-backlog-size", "16384");
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            Thread writer = new Thread(() -> {
                try (Jedis w = RedisData.jedis(source, 13)) {
                    while (!stop.get()) {
                        w.set("preflight:w", "y".repeat(1000));
                    }
                }
            });
            writer.start();
            try {
                Thread.sleep(2_000); // the server's instantaneous input rate covers its last 1.6 s
                Assessment small = find(RedisPreflight.check(plan(null, source.password(), List.of(12)), Role.SOURCE, Duration.ofSeconds(5)),
                        "replication backlog");
                assertThat(small.severity()).isEqualTo(Assessment.Severity.WARN);
                assertThat(small.finding()).contains("holds").contains("s of writes");
                assertThat(small.remedy()).startsWith("CONFIG SET repl-backlog-size");
            } finally {
                stop.set(true);
                try {
                    writer.join(5000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                s.configSet("repl-backlog-size", backlog);
                try (Jedis w = RedisData.jedis(source, 13)) {
                    w.flushDB();
                }
            }
        }
    }

    @Test
    void aTargetUserWithoutTheCommandsTheApplierSendsIsRefusedByName(SandboxServers servers) {
        source = servers.redisSource();
        target = servers.redisTarget();
        try (Jedis t = RedisData.jedis(target, 0)) {
            t.aclSetUser("preflight-noeval", "on", ">noeval-pw-1", "~*", "+@all", "-eval", "-restore");
            try {
                String yaml = """
                        name: redis-preflight
                        source: {engine: redis, host: %s, port: %d, password: "${env:PW}", databases: [12]}
                        target: {engine: redis, host: %s, port: %d, user: preflight-noeval, password: noeval-pw-1}
                        """.formatted(source.host(), source.port(), target.host(), target.port());
                Plan plan = new PlanLoader(Map.of("PW", source.password())).parse("p.yaml", yaml, Path.of("."));
                Assessment commands = find(RedisPreflight.check(plan, Role.TARGET, Duration.ofSeconds(5)), "commands");
                assertThat(commands.severity()).isEqualTo(Assessment.Severity.FAIL);
                assertThat(commands.finding()).contains("preflight-noeval may not run RESTORE, EVAL");
                assertThat(commands.remedy()).contains("ACL SETUSER preflight-noeval +restore +eval");
            } finally {
                t.aclDelUser("preflight-noeval");
            }
        }
    }
}
