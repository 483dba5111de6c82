package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.state.ValidationReport;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.RestoreParams;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;

/**
 * Redis key parity on the sandbox pair: every type copied with DUMP/RESTORE compares equal (also when only the encoding
 * differs), each injected difference is found with its key and what differs, --repair fixes them, and the next
 * validation passes.
 */
@ExtendWith(SandboxExtension.class)
class RedisKeyParityIT {
    private static final List<Integer> DBS = List.of(5, 6); // the sandbox's example plan uses 0 and 1
    private SandboxEndpoint source;
    private SandboxEndpoint target;

    private Jedis jedis(SandboxEndpoint e, int db) {
        Jedis j = new Jedis(e.host(), e.port());
        j.auth(e.password());
        j.select(db);
        return j;
    }

    @AfterEach
    void flush() {
        for (SandboxEndpoint e : List.of(source, target)) {
            for (int db : DBS) {
                try (Jedis j = jedis(e, db)) {
                    j.flushDB();
                }
            }
        }
    }

    private Plan plan() {
        String yaml = """
                name: parity
                source: {engine: redis, host: %s, port: %d, password: "${env:PW}", databases: [5, 6]}
                target: {engine: redis, host: %s, port: %d, password: "${env:PW}"}
                """.formatted(source.host(), source.port(), target.host(), target.port());
        return new PlanLoader(Map.of("PW", source.password())).parse("parity.yaml", yaml, Path.of("."));
    }

    /** What a full sync does: every key's payload restored with its expiry. */
    private void copy() {
        for (int db : DBS) {
            try (Jedis s = jedis(source, db); Jedis t = jedis(target, db)) {
                t.flushDB();
                byte[] cursor = ScanParams.SCAN_POINTER_START_BINARY;
                do {
                    ScanResult<byte[]> page = s.scan(cursor, new ScanParams());
                    cursor = page.getCursorAsBytes();
                    for (byte[] key : page.getResult()) {
                        long pttl = s.pttl(key);
                        RestoreParams params = RestoreParams.restoreParams().replace();
                        t.restore(key, pttl > 0 ? System.currentTimeMillis() + pttl : 0, s.dump(key), pttl > 0 ? params.absTtl() : params);
                    }
                } while (!java.util.Arrays.equals(cursor, ScanParams.SCAN_POINTER_START_BINARY));
            }
        }
    }

    private static List<String> found(ValidationReport report) {
        List<String> out = new ArrayList<>();
        for (ValidationReport.TableResult t : report.tables()) {
            for (ValidationReport.Mismatch m : t.mismatches()) {
                out.add(t.table() + " " + m.key().get("key") + " " + m.kind() + " " + m.columns());
            }
        }
        return out;
    }

    @Test
    void everyTypeComparesAndEveryInjectedDifferenceIsFoundAndRepaired(SandboxServers servers) {
        source = servers.redisSource();
        target = servers.redisTarget();
        try (Jedis s = jedis(source, 5)) {
            s.set("plain", "hello");
            s.set("counter", "41");
            s.incr("counter");
            s.hset("profile", Map.of("name", "Ada", "city", "Paris", "plan", "gold"));
            s.rpush("queue", "a", "b", "c");
            s.sadd("tags", "x", "y", "z");
            s.zadd("board", Map.of("ann", 3.0, "bob", 1.5));
            s.xadd("events", StreamEntryID.NEW_ENTRY, Map.of("type", "click"));
            s.xgroupCreate("events", "workers", new StreamEntryID(), false);
            s.setex("session", 3600, "token");
            s.set("big".getBytes(), new byte[11 << 20]);
            s.hset("ordered", Map.of("f1", "1"));
            s.hset("ordered", Map.of("f2", "2"));
            s.set(new byte[] {(byte) 0xff, 0, 'k'}, new byte[] {1, 2, 3});               // a key that is not UTF-8
            s.hset(new byte[] {(byte) 0xfe, 'h'}, new byte[] {(byte) 0xc3}, new byte[] {9}); // a binary field, too
        }
        try (Jedis s = jedis(source, 6)) {
            s.set("other-db", "v");
        }
        copy();
        // the same hash written in another order: another listpack payload, the same value
        try (Jedis t = jedis(target, 5)) {
            t.del("ordered");
            t.hset("ordered", Map.of("f2", "2"));
            t.hset("ordered", Map.of("f1", "1"));
        }
        RedisKeyParity parity = new RedisKeyParity(plan());
        ValidationReport clean = parity.validate(false);
        assertThat(found(clean)).as("equal after the copy, encodings aside").isEmpty();
        assertThat(clean.ok()).isTrue();
        assertThat(clean.rowsCompared()).as("12 keys in db 5, 1 in db 6").isEqualTo(13);

        try (Jedis t = jedis(target, 5)) {
            t.hset("profile", "city", "Lyon");                 // one field of a hash
            t.persist("session");                               // a TTL removed
            t.del("plain");                                     // missing
            t.set("stray", "1");                                // extra
            t.lset("queue", 1, "B");                            // a list element
            t.zadd("board", 1.6, "bob");                        // a score
            t.del("tags");
            t.set("tags", "not a set");                         // another type
            t.del(new byte[] {(byte) 0xff, 0, 'k'});             // a binary key missing
            t.hset(new byte[] {(byte) 0xfe, 'h'}, new byte[] {(byte) 0xc3}, new byte[] {8}); // a binary field changed
        }
        try (Jedis t = jedis(target, 6)) {
            t.set("other-db", "w");                             // another database
        }
        ValidationReport bad = parity.validate(false);
        assertThat(found(bad)).containsExactlyInAnyOrder(
                "db5 profile different [field city]", "db5 session different [ttl]", "db5 plain missing []", "db5 stray extra []",
                "db5 queue different [elements]", "db5 board different [members]", "db5 tags different [type]",
                "db6 other-db different [value]", "db5 0xff006b missing []", "db5 0xfe68 different [field 0xc3]");
        assertThat(bad.mismatchCount()).isEqualTo(10);
        assertThat(bad.state()).isEqualTo("mismatch");

        ValidationReport repaired = parity.validate(true);
        assertThat(repaired.tables()).flatExtracting(ValidationReport.TableResult::mismatches)
                .allSatisfy(m -> assertThat(m.repaired()).as(m.toString()).isTrue());
        ValidationReport after = parity.validate(false);
        assertThat(found(after)).isEmpty();
        assertThat(after.ok()).isTrue();
        try (Jedis t = jedis(target, 5)) {
            assertThat(t.hget("profile", "city")).isEqualTo("Paris");
            assertThat(t.pttl("session")).isBetween(Duration.ofMinutes(55).toMillis(), Duration.ofHours(1).toMillis());
            assertThat(t.exists("stray")).isFalse();
            assertThat(t.type("tags")).isEqualTo("set");
            assertThat(t.get(new byte[] {(byte) 0xff, 0, 'k'})).containsExactly(1, 2, 3);
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(120) // a leaked cluster connection shows as a hang: fail instead
    void aClusterTargetIsComparedAcrossItsMasters(SandboxServers servers) {
        source = servers.redisSource();
        target = servers.redisTarget();
        SandboxEndpoint cluster = servers.redisCluster();
        String yaml = """
                name: parity-cluster
                source: {engine: redis, host: %s, port: %d, password: "${env:PW}", databases: [0]}
                target: {engine: redis, host: %s, port: %d, password: "${env:PW}", cluster: true}
                """.formatted(source.host(), source.port(), cluster.host(), cluster.port());
        Plan plan = new PlanLoader(Map.of("PW", source.password())).parse("c.yaml", yaml, Path.of("."));
        try (Jedis s = jedis(source, 0); redis.clients.jedis.JedisCluster c = RedisConnector.cluster(plan.target(), Duration.ofSeconds(10))) {
            s.flushDB();
            for (redis.clients.jedis.ConnectionPool pool : c.getClusterNodes().values()) {
                try (Jedis node = new Jedis(pool.getResource())) {
                    if ("master".equals(String.valueOf(node.role().get(0)))) {
                        node.flushDB();
                    }
                }
            }
            for (int i = 0; i < 2000; i++) {
                s.set("user:" + i, "u" + i); // spread over every slot range, so over every master; several SCAN pages
            }
            s.hset("cart:7", Map.of("sku-1", "2", "sku-2", "1"));
            for (int i = 0; i < 2000; i++) {
                c.restore("user:" + i, 0, s.dump("user:" + i));
            }
            c.restore("cart:7", 0, s.dump("cart:7"));
            ValidationReport clean = new RedisKeyParity(plan).validate(false);
            assertThat(found(clean)).isEmpty();
            assertThat(clean.rowsCompared()).isEqualTo(2001);

            for (int i = 0; i < 40; i++) {
                c.del("user:" + i); // many suspects: every recheck reads the cluster again (and must give its connections back)
            }
            c.hset("cart:7", "sku-2", "5");
            c.set("ghost:{x}", "1");
            ValidationReport bad = new RedisKeyParity(plan).validate(true);
            assertThat(found(bad)).hasSize(42).contains("db0 user:17 missing []", "db0 user:39 missing []", "db0 cart:7 different [field sku-2]",
                    "db0 ghost:{x} extra []");
            assertThat(new RedisKeyParity(plan).validate(false).ok()).as("repaired across the cluster").isTrue();
            assertThat(c.get("user:17")).isEqualTo("u17");
            s.flushDB();
            for (redis.clients.jedis.ConnectionPool pool : c.getClusterNodes().values()) {
                try (Jedis node = new Jedis(pool.getResource())) {
                    if ("master".equals(String.valueOf(node.role().get(0)))) {
                        node.flushDB(); // leave the sandbox cluster as found: empty
                    }
                }
            }
        }
        String twoDbs = yaml.replace("databases: [0]", "databases: [0, 1]");
        assertThatThrownBy(() -> new PlanLoader(Map.of("PW", source.password())).parse("c2.yaml", twoDbs, Path.of(".")))
                .as("databases other than 0 into a cluster are refused with the plan")
                .isInstanceOfSatisfying(io.migrator.core.plan.InvalidPlanException.class,
                        e -> assertThat(e.problems().toString()).contains("cluster"));
    }
}
