package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.state.WorkerRecord;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** When a new worker may take over a Redis claim at once instead of waiting for the key to expire. */
class RedisWorkerLeaseTest {
    private static final String HERE = WorkerRecord.localHost();
    private static final String NS = RedisWorkerLease.pidNamespace();

    @Test
    void aHolderWhoseProcessEndedOnThisHostIsGone() throws Exception {
        Process ended = new ProcessBuilder("true").start();
        ended.waitFor();
        assertThat(RedisWorkerLease.gone(holder(HERE, NS, ended.pid(), Instant.now().minusSeconds(5)))).isTrue();
    }

    @Test
    void aLiveHolderIsNotGone() throws Exception {
        Process running = new ProcessBuilder("sleep", "30").start();
        try {
            assertThat(RedisWorkerLease.gone(holder(HERE, NS, running.pid(), Instant.now()))).isFalse();
        } finally {
            running.destroyForcibly().waitFor();
        }
    }

    @Test
    void anotherHostOrAnotherPidNamespaceIsNeverJudgedByItsPid() throws Exception {
        Process ended = new ProcessBuilder("true").start();
        ended.waitFor();
        assertThat(RedisWorkerLease.gone(holder("elsewhere", NS, ended.pid(), Instant.now()))).isFalse();
        assertThat(RedisWorkerLease.gone(holder(HERE, "pid:[1]", ended.pid(), Instant.now()))).as("a container sharing the host name").isFalse();
    }

    @Test
    void thisVeryPidIsGoneOnlyWhenItRegisteredBeforeThisProcessStarted() {
        long me = ProcessHandle.current().pid();
        Instant started = ProcessHandle.current().info().startInstant().orElseThrow();
        assertThat(RedisWorkerLease.gone(holder(HERE, NS, me, started.minusSeconds(60)))).as("a restarted container with the same pid").isTrue();
        assertThat(RedisWorkerLease.gone(holder(HERE, NS, me, Instant.now()))).isFalse();
    }

    @Test
    void decodesWhatWorkersStore() {
        RedisWorkerLease.Holder h = RedisWorkerLease.decode("tok\t127.0.0.1:9470\tvm#pid:[4026531836]\t42\t2026-11-27T04:00:00Z");
        assertThat(h.worker()).isEqualTo(new WorkerRecord("127.0.0.1:9470", "vm", 42, "2026-11-27T04:00:00Z"));
        assertThat(h.namespace()).isEqualTo("pid:[4026531836]");
        assertThat(RedisWorkerLease.decode("garbage")).isNull();
    }

    private static RedisWorkerLease.Holder holder(String host, String ns, long pid, Instant at) {
        return new RedisWorkerLease.Holder(new WorkerRecord("127.0.0.1:1", host, pid, at.toString()), ns);
    }

    @Test
    void aClaimIsFreshUntilTheStopMarginBeforeItsKeyCouldExpire() {
        long renewed = 1_000_000_000L;
        long limit = (RedisWorkerLease.TTL_MILLIS - RedisWorkerLease.STOP_MARGIN_MILLIS) * 1_000_000;
        assertThat(RedisWorkerLease.fresh(renewed, renewed)).isTrue();
        assertThat(RedisWorkerLease.fresh(renewed, renewed + limit - 1)).isTrue();
        assertThat(RedisWorkerLease.fresh(renewed, renewed + limit)).as("a worker paused this long may have lost the key").isFalse();
        assertThat(RedisWorkerLease.fresh(renewed, renewed + RedisWorkerLease.TTL_MILLIS * 1_000_000)).isFalse();
    }
}
