package io.migrator.connectors.redis;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the shared cutover runbook reads and writes through a Redis worker: status, the fence (the applied replication
 * offset), the journal and checked phase moves, and the stream's end at the point of no return. Key parity is the
 * validation's: the runbook has no rows to hash.
 */
final class RedisCutoverHost implements io.migrator.core.cutover.Runbook.Host {
    private static final Logger LOG = LoggerFactory.getLogger(RedisCutoverHost.class);
    private final RedisMigration worker;
    private final io.migrator.core.apply.ChangedKeys none = new io.migrator.core.apply.ChangedKeys(1);

    RedisCutoverHost(RedisMigration worker) {
        this.worker = worker;
    }

    @Override
    public MigrationStatus status() {
        return worker.status();
    }

    @Override
    public List<io.migrator.core.schema.TableDef> tables() {
        return List.of(); // key parity is the validation's: the runbook has no rows to hash
    }

    @Override
    public io.migrator.core.apply.ChangedKeys changedKeys() {
        return none;
    }

    @Override
    public io.migrator.core.spi.Fence fence() {
        return worker.fence();
    }

    @Override
    public void move(Phase next, String why) {
        Phase current = worker.cutoverMove(next, why);
        LOG.info("phase {} -> {} ({})", current, next, why);
    }

    @Override
    public void journal(String detail) {
        worker.cutoverJournal(worker.phase(), detail);
    }

    @Override
    public void stopStream() {
        worker.streamStopped = true;
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!worker.streamStoppedAck && System.nanoTime() < deadline && !worker.failing()) {
            RedisTargetWrites.sleep(5);
        }
        if (!worker.streamStoppedAck) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, "the applier did not stop within 10 s of the point of no return",
                    "look at the worker's log; `migrator cutover PLAN` again goes on from the switch");
        }
    }

    @Override
    public void holdStream() {
        worker.pause();
    }

    @Override
    public boolean rollback() {
        return worker.forwardName() != null;
    }

    @Override
    public String validationWaiver() {
        return worker.forwardName() != null && worker.continuous ? "a rollback: parity held at the cutover's fence, and the reverse stream has carried "
                + "every write since from that very position (a partial resync, no full sync)" : null;
    }

    @Override
    public String oppositeDirection() {
        Plan plan = worker.plan();
        return worker.forwardName() != null ? worker.forwardName() : plan.cutover().reverse() ? Plan.reverseName(plan.name()) : null;
    }
}
