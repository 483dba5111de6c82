package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.state.CutoverReport;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.Sandbox;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.SandboxEngine;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisException;

/**
 * The Redis cutover on the sandbox's servers behind its HAProxy: the application, an ACL user of its own, SETs a key every
 * 5 ms through the proxy and records each acknowledged one. The freeze is CLIENT PAUSE WRITE with the fence offset read
 * in the same MULTI/EXEC; the switch repoints HAProxy; the lasting freeze takes the user's write commands on the old
 * source until `complete` gives them back. A paused target aborts within the budget and the source takes writes again;
 * the default user as the application's is refused with what to do instead.
 */
@ExtendWith(SandboxExtension.class)
@Timeout(300)
class RedisCutoverIT {
    private static final int DB = 6;
    private SandboxServers servers;
    private String app;
    private String admin;
    /** Where the plan sends the worker to the target: the sandbox's target, or a fault proxy in front of it. */
    private int targetPort;

    @AfterEach
    void cleanUp() throws Exception {
        if (admin != null) {
            runtime("set server redis/primary addr 127.0.0.1 port " + servers.redisSource().port());
        }
        for (SandboxEndpoint e : List.of(servers.redisSource(), servers.redisTarget())) {
            try (Jedis j = RedisData.jedis(e, DB)) {
                j.sendCommand(redis.clients.jedis.Protocol.Command.CLIENT, "UNPAUSE");
                j.flushDB();
                if (app != null) {
                    j.aclDelUser(app);
                }
            }
        }
    }

    private Plan setUp(SandboxServers servers, String name, String cutover) throws Exception {
        this.servers = servers;
        servers.sandbox().up(EnumSet.of(SandboxEngine.REDIS), true);
        admin = "127.0.0.1:" + (Sandbox.REDIS_PROXY_ADMIN_PORT + servers.sandbox().portOffset());
        runtime("set server redis/primary addr 127.0.0.1 port " + servers.redisSource().port());
        app = "app_" + name.replace('-', '_');
        SandboxEndpoint source = servers.redisSource();
        SandboxEndpoint target = servers.redisTarget();
        for (SandboxEndpoint e : List.of(source, target)) {
            try (Jedis j = RedisData.jedis(e, DB)) {
                j.flushDB();
                if (e == source) { // on the source the user's writes come from a selector: the lasting freeze must take those too
                    j.aclSetUser(app, "reset", "on", ">app-pw", "resetkeys", "-@all", "(~* &* +@all)");
                } else {
                    j.aclSetUser(app, "reset", "on", ">app-pw", "~*", "&*", "+@all");
                }
            }
        }
        try (Jedis s = RedisData.jedis(source, DB)) {
            for (int i = 0; i < 500; i++) {
                s.set("seed-" + i, Integer.toString(i));
            }
        }
        RedisStoredState.forget(planFor(name, ""));
        return planFor(name, "cutover: {maxLag: 3s, applicationUsers: [" + app + "], switch: [{haproxy: {admin: \"" + admin
                + "\", backend: redis, server: primary}}]" + cutover + "}");
    }

    private Plan planFor(String name, String extra) {
        SandboxEndpoint source = servers.redisSource();
        SandboxEndpoint target = servers.redisTarget();
        String yaml = """
                name: %s
                source: {engine: redis, host: %s, port: %d, password: "${env:PW}", databases: [%d]}
                target: {engine: redis, host: %s, port: %d, password: "${env:PW}"}
                %s
                """.formatted(name, source.host(), source.port(), DB, target.host(), targetPort > 0 ? targetPort : target.port(), extra);
        return new PlanLoader(Map.of("PW", source.password())).parse(name + ".yaml", yaml, Path.of("."));
    }

    @Test
    void cutsOverUnderAWriterThroughHaproxyAndCompleteGivesTheWritesBack(SandboxServers servers) throws Exception {
        Plan plan = setUp(servers, "redis-cut", ", maxDowntime: 5s, reverse: false");
        Writer writer = new Writer();
        RedisData.Running run = RedisData.start(plan);
        try {
            awaitPhase(run, Phase.STREAMING);
            writer.start();
            Thread.sleep(1_000);
            assertValidates(run);
            assertThat(run.worker().status().cutoverReady()).as("streaming, lag under maxLag, validated: ready").isTrue();
            long before = System.nanoTime();
            CutoverReport report = cutOver(run, false, null);
            long after = System.nanoTime();
            Thread.sleep(1_000);
            writer.stop();

            assertThat(report.error()).as("%s", report).isNull();
            assertThat(report.ok()).isTrue();
            assertThat(report.steps()).extracting(CutoverReport.Step::name)
                    .containsSubsequence("preconditions", "freeze", "fence", "verify", "open", "switch", "freeze-lasting");
            assertThat(report.steps()).allMatch(CutoverReport.Step::ok);
            assertThat(report.writeFreezeMillis()).isPositive().isLessThanOrEqualTo(5_000);
            assertThat(run.worker().status().phase()).isEqualTo(Phase.CUT_OVER);

            assertThat(writer.acknowledged).as("acknowledged writes").hasSizeGreaterThan(100);
            List<String> afterCutover = new ArrayList<>();
            try (Jedis t = RedisData.jedis(servers.redisTarget(), DB); Jedis s = RedisData.jedis(servers.redisSource(), DB)) {
                for (Map.Entry<String, Long> e : writer.acknowledged.entrySet()) {
                    assertThat(t.get(e.getKey())).as("acknowledged %s is on the target", e.getKey()).isEqualTo(e.getKey());
                    if (e.getValue() > after) {
                        afterCutover.add(e.getKey());
                        assertThat(s.exists(e.getKey())).as("%s, written after the cutover, went to the target only", e.getKey()).isFalse();
                    }
                }
            }
            assertThat(afterCutover).as("the writer wrote on after the cutover").isNotEmpty();
            assertThat(writer.longestGapMillis(before, after)).as("the writer's longest gap").isLessThanOrEqualTo(report.writeFreezeMillis() + 1_000);
            assertThat(directSet(servers.redisSource())).as("the application's user lost its writes on the old source").contains("NOPERM");
        } finally {
            writer.stop();
            run.halt();
        }
        List<String> released = io.migrator.core.run.Migrations.discover().complete(plan).released();
        assertThat(released).anyMatch(r -> r.contains("ACL rules restored for " + app));
        assertThat(directSet(servers.redisSource())).as("complete gave them back").isEqualTo("OK");
    }

    /**
     * Cutover, reverse replication, rollback, forward again and a second cutover, with the application writing through
     * HAProxy all along (a SET of a new key and an INCR of one counter every 5 ms): after each leg every acknowledged key is
     * on the server the application now uses and on the other one, and the counter is equal on both and counts every
     * acknowledged INCR exactly once (a replayed INCR would count twice).
     */
    @Test
    void rollsBackWithEveryWriteCarriedBackThenCutsOverAgain(SandboxServers servers) throws Exception {
        Plan plan = setUp(servers, "redis-back", ", maxDowntime: 5s");
        assertThat(plan.cutover().reverse()).as("on by default when the plan names application users").isTrue();
        RedisStoredState.forget(plan.reversed());
        Writer writer = new Writer();
        RedisData.Running run = RedisData.start(plan);
        try {
            awaitPhase(run, Phase.STREAMING);
            writer.start();
            Thread.sleep(500);
            assertValidates(run);
            CutoverReport first = cutOver(run, false, null);
            assertThat(first.ok()).as("%s", first).isTrue();
            assertThat(first.steps()).extracting(CutoverReport.Step::name).containsSubsequence("preconditions", "reverse-slot", "freeze",
                    "fence", "reverse-position", "admit", "switch", "freeze-lasting");
            io.migrator.connectors.testing.CutoverRuns.awaitDirection(run.worker(), "reverse");
            awaitReversePhase(run, Phase.STREAMING);
            Thread.sleep(1_000); // the application writes on the new server; reverse replication carries it back
            assertBothHoldEveryAcknowledgedWrite(writer, "after the cutover", false);

            // the rollback: the new server frozen, the reverse stream drained to its fence, traffic back on the old source
            run.worker().startRollback(false, null);
            CutoverReport back = io.migrator.connectors.testing.CutoverRuns.awaitRollback(run.worker());
            assertThat(back.ok()).as("%s", back).isTrue();
            assertThat(back.steps()).extracting(CutoverReport.Step::name).containsSubsequence("preconditions", "reverse-slot", "freeze",
                    "fence", "reverse-position", "admit", "switch", "freeze-lasting");
            assertThat(back.writeFreezeMillis()).isPositive().isLessThanOrEqualTo(5_000);
            awaitPhase(run, Phase.STREAMING); // forward again, from the old source's position at the rollback's fence
            assertThat(run.worker().status().direction()).isEqualTo("forward");
            assertThat(run.worker().status().phases()).anyMatch(e -> e.phase() == Phase.ROLLED_BACK);
            Thread.sleep(1_000);
            assertThat(directSet(servers.redisSource())).as("the application writes on the old source again").isEqualTo("OK");
            assertThat(directSet(servers.redisTarget())).as("and no longer on the new server").contains("NOPERM");
            assertBothHoldEveryAcknowledgedWrite(writer, "after the rollback", false);

            // and once more forward: the second cutover gives the application its writes on the new server back
            assertValidates(run);
            CutoverReport second = cutOver(run, false, null);
            assertThat(second.ok()).as("%s", second).isTrue();
            io.migrator.connectors.testing.CutoverRuns.awaitDirection(run.worker(), "reverse");
            awaitReversePhase(run, Phase.STREAMING);
            Thread.sleep(1_000);
            writer.stop();
            assertThat(directSet(servers.redisTarget())).as("the new server is the application's again").isEqualTo("OK");
            assertBothHoldEveryAcknowledgedWrite(writer, "after the second cutover", true);
            assertThat(writer.acknowledged).as("acknowledged writes").hasSizeGreaterThan(300);
            assertThat(io.migrator.core.run.Migrations.discover().rollbackPossible(plan)).isTrue();
        } finally {
            writer.stop();
            run.halt();
        }
        List<String> released = io.migrator.core.run.Migrations.discover().complete(plan).released();
        assertThat(released).anyMatch(r -> r.startsWith("reverse replication " + plan.reversed().name() + " ended"));
        assertThat(directSet(servers.redisSource())).as("complete gave the old source's writes back").isEqualTo("OK");
        try (Jedis s = RedisData.jedis(servers.redisSource(), 0)) {
            assertThat(s.keys(io.migrator.connectors.redis.RedisCheckpoint.PREFIX + plan.reversed().name() + ":*")).isEmpty();
        }
    }

    /**
     * A target that cannot be read back (ElastiCache refuses PSYNC): `rollback.cache` says what a rollback does with the old
     * cache. Under a writer through HAProxy: cutover, writes on the new server, rollback; with `flush` the old cache holds
     * none of the keys from before the rollback, with `keep` all it held at the cutover and none written on the new server
     * since; either way the application writes on the old cache again and the new server, synced in full from it, ends up
     * holding exactly its keys.
     */
    @Test
    void rollsBackUnderTheCachePolicyWhenNothingCanStreamBack(SandboxServers servers) throws Exception {
        for (String cache : List.of("flush", "keep")) {
            Plan plan = setUp(servers, "redis-" + cache, ", maxDowntime: 5s}\nrollback: {cache: " + cache);
            assertThat(plan.cutover().reverse()).as("the policy says the target cannot be read back").isFalse();
            RedisStoredState.forget(plan.reversed());
            Writer writer = new Writer();
            RedisData.Running run = RedisData.start(plan);
            try {
                awaitPhase(run, Phase.STREAMING);
                writer.start();
                Thread.sleep(300);
                if (cache.equals("flush")) {
                    // a worker killed inside a rollback's freeze: the new server paused, the rollback's state "started" on the old
                    // source; the restarted worker ends the pause before it claims the new server, and undoes the rollback
                    assertValidates(run);
                    CutoverReport first = cutOver(run, false, null);
                    assertThat(first.ok()).as("%s", first).isTrue();
                    run.halt();
                    try (Jedis t = RedisData.jedis(servers.redisTarget(), 0); Jedis s = RedisData.jedis(servers.redisSource(), 0)) {
                        s.hset(RedisCheckpoint.key(plan.reversed().name()), "cutover", "started");
                        t.sendCommand(redis.clients.jedis.Protocol.Command.CLIENT, "PAUSE", "60000", "WRITE");
                    }
                    run = RedisData.start(plan);
                    long deadline = System.currentTimeMillis() + 30_000;
                    while (RedisReverse.state(plan.reversed()) != null && System.currentTimeMillis() < deadline) {
                        Thread.sleep(100);
                    }
                    assertThat(RedisReverse.state(plan.reversed())).as("the interrupted rollback undone").isNull();
                    assertThat(run.worker().status().phase()).isEqualTo(Phase.CUT_OVER);
                    assertThat(directSetWithin(servers.redisTarget(), 2_000)).as("the new server's pause ended").isEqualTo("OK");
                    assertThat(run.failure().get()).isNull();
                    // and forward again for the round trip below: a fresh migration
                    run.halt();
                    writer.stop();
                    io.migrator.core.run.Migrations.discover().complete(plan);
                    cleanUp();
                    plan = setUp(servers, "redis-" + cache, ", maxDowntime: 5s}\nrollback: {cache: " + cache);
                    writer = new Writer();
                    run = RedisData.start(plan);
                    awaitPhase(run, Phase.STREAMING);
                    writer.start();
                    Thread.sleep(300);
                }
                assertValidates(run);
                CutoverReport cut = cutOver(run, false, null);
                assertThat(cut.ok()).as("%s", cut).isTrue();
                assertThat(cut.steps()).filteredOn(step -> step.name().equals("preconditions")).singleElement().isNotNull();
                Thread.sleep(800); // the application writes on the new server: given up by the rollback
                List<String> beforeRollback = new ArrayList<>(writer.acknowledged.keySet());

                run.worker().startRollback(false, null);
                CutoverReport back = io.migrator.connectors.testing.CutoverRuns.awaitRollback(run.worker());
                long rolledBack = System.nanoTime();
                assertThat(back.ok()).as("%s", back).isTrue();
                assertThat(back.steps()).filteredOn(step -> step.name().equals("reverse-slot")).singleElement()
                        .satisfies(step -> assertThat(step.detail()).startsWith("rollback.cache: " + cache));
                awaitPhase(run, Phase.STREAMING); // a full sync of the new server from the old cache
                assertThat(run.worker().status().phases()).anyMatch(e -> e.phase() == Phase.ROLLED_BACK);
                Thread.sleep(500);
                writer.stop();
                assertThat(directSet(servers.redisSource())).as("the application writes on the old cache again").isEqualTo("OK");
                assertThat(directSet(servers.redisTarget())).as("and no longer on the new server").contains("NOPERM");
                Thread.sleep(500);
                try (Jedis s = RedisData.jedis(servers.redisSource(), DB); Jedis t = RedisData.jedis(servers.redisTarget(), DB)) {
                    java.util.Set<String> old = s.keys("*");
                    assertThat(t.keys("*")).as("the new server holds exactly the old cache's keys").isEqualTo(old);
                    if (cache.equals("flush")) {
                        assertThat(old).as("nothing from before the rollback").doesNotContain("seed-0").doesNotContainAnyElementsOf(beforeRollback);
                    } else {
                        assertThat(old).as("what it held at the cutover").contains("seed-0", "seed-499");
                    }
                    List<String> afterwards = writer.acknowledged.entrySet().stream().filter(e -> e.getValue() > rolledBack)
                            .map(Map.Entry::getKey).toList();
                    assertThat(afterwards).as("the writer wrote on after the rollback").isNotEmpty();
                    assertThat(old).as("every write acknowledged after the rollback").containsAll(afterwards);
                }
            } finally {
                writer.stop();
                run.halt();
            }
            io.migrator.core.run.Migrations.discover().complete(plan);
            cleanUp();
        }
    }

    /** Waits until the reverse stream, as status shows it, is in {@code phase}. */
    private static void awaitReversePhase(RedisData.Running run, Phase phase) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline && !run.worker().status().cutoverReady()) {
            Thread.sleep(100);
        }
        assertThat(run.worker().status().cutoverReady()).as("the reverse direction is %s and ready: %s", phase, run.worker().status())
                .isTrue();
    }

    /**
     * Waits until both servers hold every key acknowledged so far; once the writer has stopped ({@code quiet}), also the
     * same counter, which counts every acknowledged INCR once (at most the failed, unacknowledged ones more).
     */
    private void assertBothHoldEveryAcknowledgedWrite(Writer writer, String when, boolean quiet) throws InterruptedException {
        List<String> keys = new ArrayList<>(writer.acknowledged.keySet());
        long deadline = System.currentTimeMillis() + 30_000;
        String problem;
        do {
            problem = null;
            try (Jedis t = RedisData.jedis(servers.redisTarget(), DB); Jedis s = RedisData.jedis(servers.redisSource(), DB)) {
                for (String key : keys) {
                    if (!key.equals(t.get(key)) || !key.equals(s.get(key))) {
                        problem = key + " target=" + t.get(key) + " source=" + s.get(key);
                        break;
                    }
                }
                String ts = t.get("counter");
                String ss = s.get("counter");
                long acked = writer.increments.get();
                if (problem == null && quiet && (ts == null || !ts.equals(ss) || Long.parseLong(ts) < acked
                        || Long.parseLong(ts) > acked + writer.errors.get())) {
                    problem = "counter target=" + ts + " source=" + ss + ", acknowledged INCRs " + acked + ", errors " + writer.errors.get();
                }
            }
            if (problem != null) {
                Thread.sleep(200);
            }
        } while (problem != null && System.currentTimeMillis() < deadline);
        assertThat(problem).as(when + " (" + keys.size() + " acknowledged keys)").isNull();
    }

    @Test
    void aPausedTargetAbortsWithinTheBudgetAndTheDefaultUserIsRefused(SandboxServers servers) throws Exception {
        Plan plan = setUp(servers, "redis-cut-abort", ", maxDowntime: 2s");
        RedisData.Running run = RedisData.start(plan);
        try {
            awaitPhase(run, Phase.STREAMING);
            assertValidates(run);
            CutoverReport aborted;
            run.worker().pause(); // the applier is held back: the fence cannot be reached
            try (Jedis s = RedisData.jedis(servers.redisSource(), DB)) {
                s.set("before-the-cutover", "1");
                long started = System.nanoTime();
                aborted = cutOver(run, false, null);
                assertThat((System.nanoTime() - started) / 1_000_000).as("aborted within the budget and a margin").isLessThan(2_000 + 3_000);
            }
            run.worker().resume();
            assertThat(aborted.aborted()).as("%s", aborted).isTrue();
            assertThat(aborted.error().code()).isEqualTo("CUTOVER_ABORTED");
            assertThat(aborted.steps()).extracting(CutoverReport.Step::name).contains("freeze", "fence", "unfreeze").doesNotContain("switch");
            assertThat(run.worker().status().phase()).isEqualTo(Phase.STREAMING);
            assertThat(directSet(servers.redisSource())).as("the source takes writes again at once (CLIENT UNPAUSE)").isEqualTo("OK");

            Plan defaultUser = planFor("redis-cut-abort", "cutover: {maxLag: 3s, applicationUsers: [default], switch: [{haproxy: {admin: \""
                    + admin + "\", backend: redis, server: primary}}]}");
            RedisMigration other = new RedisMigration(defaultUser);
            assertThat(other.startCutover(true, null)).isNotNull();
            CutoverReport refused = awaitReport(other);
            assertThat(refused.exitCode()).isEqualTo(4);
            assertThat(refused.error().message()).contains("application user default: the default user is every connection that does not "
                    + "say who it is");
            assertThat(refused.error().remedy()).isNotBlank();

            // a dry run predicts and changes nothing: the source is not paused, no ACL user loses anything
            CutoverReport dry = cutOver(run, true, Duration.ofSeconds(3));
            assertThat(dry.ok()).as("%s", dry).isTrue();
            assertThat(dry.steps().subList(1, dry.steps().size())).allMatch(step -> step.detail().startsWith("predicted: "));
            assertThat(directSet(servers.redisSource())).as("nothing paused, no write taken").isEqualTo("OK");
            assertThat(run.worker().status().phase()).isEqualTo(Phase.STREAMING);

            // a cluster target behind a TCP proxy: its clients would be sent MOVED past the proxy
            SandboxEndpoint cluster = servers.redisCluster();
            Plan clusterPlan = new PlanLoader(Map.of("PW", servers.redisSource().password())).parse("c.yaml", """
                    name: redis-cut-cluster
                    source: {engine: redis, host: %s, port: %d, password: "${env:PW}", databases: [0]}
                    target: {engine: redis, host: %s, port: %d, password: "${env:PW}", cluster: true}
                    cutover: {switch: [{haproxy: {admin: "%s", backend: redis, server: primary}}]}
                    """.formatted(servers.redisSource().host(), servers.redisSource().port(), cluster.host(), cluster.port(), admin), Path.of("."));
            RedisMigration toCluster = new RedisMigration(clusterPlan);
            toCluster.startCutover(true, null);
            assertThat(awaitReport(toCluster).error().message()).contains("switch: the target is a Redis Cluster: behind a TCP proxy its "
                    + "clients are sent MOVED");
        } finally {
            run.halt();
        }
        try (Jedis t = RedisData.jedis(servers.redisTarget(), DB)) {
            assertThat(t.get("before-the-cutover")).as("the stream went on after the abort").isEqualTo("1");
        }
        io.migrator.core.run.Migrations.discover().complete(plan);
    }

    /**
     * The network to the target fails inside the freeze (the source paused with CLIENT PAUSE WRITE, the fence offset read):
     * the fence cannot be proven on the target, the cutover aborts within its budget before any switch and unpauses the
     * source, and once the target answers again the migration streams on with every acknowledged write there and the
     * counter counting each acknowledged INCR once.
     */
    @Test
    void aTargetCutInsideTheFreezeAbortsBeforeTheSwitchAndLosesNothing(SandboxServers servers) throws Exception {
        try (io.migrator.connectors.testing.FaultProxy targetProxy = new io.migrator.connectors.testing.FaultProxy(
                servers.redisTarget().host(), servers.redisTarget().port())) {
            targetPort = targetProxy.port();
            Plan plan = setUp(servers, "redis-cut-fault", ", maxDowntime: 2s");
            Writer writer = new Writer();
            RedisData.Running run = RedisData.start(plan);
            try {
                awaitPhase(run, Phase.STREAMING);
                writer.start();
                Thread.sleep(1_000);
                assertValidates(run);
                CutoverReport report = io.migrator.connectors.testing.CutoverRuns.cutTargetAfterFreeze(run.worker(), targetProxy);
                assertThat(report.aborted()).as("%s", report).isTrue();
                assertThat(report.exitCode()).isEqualTo(4);
                assertThat(report.steps()).extracting(CutoverReport.Step::name).contains("freeze", "unfreeze").doesNotContain("switch");
                assertThat(directSetWithin(servers.redisSource(), 5_000)).as("the source takes writes again").isEqualTo("OK");
                Thread.sleep(1_000);
                writer.stop();
                long deadline = System.currentTimeMillis() + 60_000;
                while (run.worker().status().phase() != Phase.STREAMING && System.currentTimeMillis() < deadline) {
                    Thread.sleep(100);
                }
                assertThat(run.failure().get()).isNull();
                assertThat(run.worker().status().phase()).isEqualTo(Phase.STREAMING);
                assertThat(writer.acknowledged).as("writes acknowledged around the cutover").hasSizeGreaterThan(100);
                assertBothHoldEveryAcknowledgedWrite(writer, "after the aborted cutover", true);
            } finally {
                writer.stop();
                run.halt();
            }
            io.migrator.core.run.Migrations.discover().complete(plan);
        } finally {
            targetPort = 0;
        }
    }

    /**
     * Parity while the writer runs: its counter is written every few milliseconds, so a recheck may find it moving on the
     * source each time it looks ("inconclusive", which is not a mismatch). Validated again then, as the report advises.
     */
    private static void assertValidates(RedisData.Running run) throws InterruptedException {
        io.migrator.core.state.ValidationReport report = run.worker().validate(List.of(), false);
        for (int attempt = 1; attempt < 4 && report.state().equals("inconclusive"); attempt++) {
            Thread.sleep(200);
            report = run.worker().validate(List.of(), false);
        }
        assertThat(report.ok()).as("%s", report).isTrue();
    }

    private static void awaitPhase(RedisData.Running run, Phase phase) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 120_000;
        while (run.worker().status().phase() != phase && System.currentTimeMillis() < deadline && run.failure().get() == null) {
            Thread.sleep(100);
        }
        assertThat(run.failure().get()).isNull();
        assertThat(run.worker().status().phase()).isEqualTo(phase);
    }

    private static CutoverReport cutOver(RedisData.Running run, boolean dryRun, Duration budget) throws InterruptedException {
        return io.migrator.connectors.testing.CutoverRuns.run(run.worker(), dryRun, budget);
    }

    private static CutoverReport awaitReport(RedisMigration worker) throws InterruptedException {
        return io.migrator.connectors.testing.CutoverRuns.awaitFinished(worker);
    }

    /** One SET as the application's user straight into the server: "OK" or the error. */
    private String directSet(SandboxEndpoint e) {
        return directSetWithin(e, 5_000);
    }

    private String directSetWithin(SandboxEndpoint e, int millis) {
        try (Jedis j = new Jedis(e.host(), e.port(), millis)) {
            j.auth(app, "app-pw");
            j.select(DB);
            return j.set("direct", "1");
        } catch (JedisException ex) {
            return ex.getMessage();
        }
    }

    private String runtime(String command) throws Exception {
        int colon = admin.lastIndexOf(':');
        try (Socket s = new Socket(admin.substring(0, colon), Integer.parseInt(admin.substring(colon + 1)))) {
            OutputStream out = s.getOutputStream();
            out.write((command + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** The application: a SET every 5 ms through HAProxy as its own ACL user; after an error, a new connection. */
    private final class Writer {
        final io.migrator.connectors.testing.AckLog log = new io.migrator.connectors.testing.AckLog();
        final ConcurrentMap<String, Long> acknowledged = log.acknowledged;
        final AtomicLong errors = new AtomicLong();
        final AtomicLong increments = new AtomicLong();
        private final AtomicBoolean stop = new AtomicBoolean();
        private Thread thread;

        void start() {
            thread = new Thread(this::write, "app-writer");
            thread.start();
        }

        void stop() throws InterruptedException {
            stop.set(true);
            if (thread != null) {
                thread.join(30_000);
            }
        }

        private void write() {
            long seq = 0;
            int port = Sandbox.REDIS_PROXY_PORT + servers.sandbox().portOffset();
            while (!stop.get()) {
                try (Jedis j = new Jedis("127.0.0.1", port, 10_000)) {
                    j.auth(app, "app-pw");
                    j.select(DB);
                    while (!stop.get()) {
                        String key = "w-" + seq++;
                        j.set(key, key);
                        log.acknowledged(key);
                        j.incr("counter");
                        increments.incrementAndGet();
                        Thread.sleep(5);
                    }
                } catch (JedisException e) {
                    errors.incrementAndGet();
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException interrupted) {
                        return;
                    }
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        long longestGapMillis(long from, long to) {
            return log.longestGapMillis(from, to);
        }
    }
}
