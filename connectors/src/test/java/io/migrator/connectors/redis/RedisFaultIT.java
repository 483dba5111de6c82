package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.redis.RedisData.Running;
import io.migrator.connectors.testing.FaultProxy;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.Jedis;

/**
 * The network between the Redis worker and real Redis servers, broken on purpose by a {@link FaultProxy} on each side while
 * a writer changes keys of every type on the source: the target cut off for longer than the ten attempts the applier used
 * to give up after (status shows the outage as {@code degraded} meanwhile), then the source cut off under the replication
 * stream (PSYNC continues from the offset once it answers), then each side half-open for longer than network.readTimeout
 * (the connection is dropped and made again). The target ends holding exactly the source's keys and values,
 * compared by type on both servers, not by the validator.
 */
@ExtendWith(SandboxExtension.class)
@Timeout(300)
class RedisFaultIT {
    private Plan plan;
    private static final int DB = 8;
    private SandboxEndpoint source;
    private SandboxEndpoint target;
    private FaultProxy sourceProxy;
    private FaultProxy targetProxy;
    private Running running;

    @AfterEach
    void cleanUp() throws Exception {
        if (running != null) {
            running.stop().set(true);
            running.thread().join(60_000);
        }
        if (plan != null) {
            sourceProxy.restore();
            targetProxy.restore();
            RedisStoredState.forget(plan); // checkpoint, phase history, claim: a later run starts with none of this one's
        }
        if (sourceProxy != null) {
            sourceProxy.close();
        }
        if (targetProxy != null) {
            targetProxy.close();
        }
        for (SandboxEndpoint e : List.of(source, target)) {
            try (Jedis j = RedisData.jedis(e, DB)) {
                j.flushDB();
            }
        }
    }

    @Test
    void ridesOutATargetOutageAndASourceCutAndLosesNothing(SandboxServers servers) throws Exception {
        source = servers.redisSource();
        target = servers.redisTarget();
        for (SandboxEndpoint e : List.of(source, target)) {
            try (Jedis j = RedisData.jedis(e, DB)) {
                j.flushDB();
            }
        }
        try (Jedis s = RedisData.jedis(source, DB)) {
            RedisData.seed(s, "f:", 300, false);
        }
        sourceProxy = new FaultProxy(source.host(), source.port());
        targetProxy = new FaultProxy(target.host(), target.port());
        String yaml = """
                name: redis-fault
                source: {engine: redis, host: 127.0.0.1, port: %d, password: "${env:PW}", databases: [%d]}
                target: {engine: redis, host: 127.0.0.1, port: %d, password: "${env:PW}"}
                network: {maxOutage: 2m, readTimeout: 15s}
                """.formatted(sourceProxy.port(), DB, targetProxy.port());
        plan = new PlanLoader(Map.of("PW", source.password())).parse("f.yaml", yaml, Path.of("."));
        RedisStoredState.forget(plan); // what an earlier, interrupted run left behind
        running = RedisData.start(plan);
        await("streaming", () -> running.worker().status().phase() == Phase.STREAMING);
        AtomicBoolean stopWriter = new AtomicBoolean();
        AtomicReference<Throwable> writerError = new AtomicReference<>();
        AtomicLong writes = new AtomicLong();
        Thread writer = RedisData.writer(source, List.of(DB), "f:", 300, stopWriter, writes, 31, writerError);
        try {
            Thread.sleep(1_000);
            // the target goes away for longer than ten attempts with backoff used to last
            long before = targetProxy.accepted();
            targetProxy.cut();
            await("the outage shown", () -> running.worker().status().degraded() != null);
            MigrationStatus.Degraded degraded = running.worker().status().degraded();
            assertThat(degraded.lastError()).contains("on the target");
            Thread.sleep(25_000);
            targetProxy.restore();
            await("recovered", () -> running.worker().status().degraded() == null);
            assertThat(targetProxy.accepted()).as("the worker reconnected to the target").isGreaterThan(before);

            // the source goes away under the replication stream
            before = sourceProxy.accepted();
            sourceProxy.cut();
            Thread.sleep(6_000);
            sourceProxy.restore();
            Thread.sleep(2_000);
            assertThat(sourceProxy.accepted()).as("the stream reconnected to the source").isGreaterThan(before);

            // half-open: the target stops answering without closing anything (a hung server, a dropped NAT entry); the
            // applier's read gives up after network.readTimeout and reconnects
            targetProxy.stall();
            await("the stalled target shown", () -> running.worker().status().degraded() != null);
            assertThat(running.worker().status().degraded().lastError()).contains("on the target");
            Thread.sleep(3_000);
            targetProxy.restore();
            await("recovered from the stall", () -> running.worker().status().degraded() == null);

            // the replication link half-open: the reader's read gives up and continues with PSYNC from its offset
            long beforeStall = sourceProxy.accepted();
            sourceProxy.stall();
            Thread.sleep(20_000);
            sourceProxy.restore();
            await("the stream reconnected after the stall", () -> sourceProxy.accepted() > beforeStall);
            Thread.sleep(2_000);
        } finally {
            stopWriter.set(true);
            writer.join(10_000);
        }
        assertThat(writerError.get()).as("the writer ran to the end").isNull();
        assertThat(running.failure().get()).as("the worker rode the outages out").isNull();
        long goal;
        try (Jedis s = RedisData.jedis(source, 0)) {
            goal = Long.parseLong(RedisConnector.parseInfo(s.info("replication")).get("master_repl_offset"));
        }
        await("the stream to reach offset " + goal, () -> {
            MigrationStatus st = running.worker().status();
            String position = st.applied().position();
            return !position.isEmpty() && Long.parseLong(position.substring(position.indexOf(':') + 1)) >= goal && st.lag().events() == 0;
        });
        assertThat(running.worker().status().phases()).filteredOn(e -> e.phase() == Phase.SNAPSHOT).as("no full resync after the first sync")
                .hasSizeLessThanOrEqualTo(1);
        running.halt();
        try (Jedis s = RedisData.jedis(source, DB); Jedis t = RedisData.jedis(target, DB)) {
            RedisData.assertSame(s, key -> RedisData.value(t, key), RedisData.keys(t, ""), "f:", "after the outages");
        }
        assertThat(writes.get()).as("writes made during the faults").isGreaterThan(100);
    }

    private void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 90_000;
        while (System.currentTimeMillis() < deadline) {
            if (condition.getAsBoolean()) {
                return;
            }
            assertThat(running.failure().get()).as("the worker fails while waiting for " + what).isNull();
            Thread.sleep(100);
        }
        throw new AssertionError("timed out waiting for " + what + ": " + running.worker().status());
    }
}
