package io.migrator.connectors.redis;

import io.migrator.core.apply.ChangedKeys;
import io.migrator.core.cutover.CutoverDriver;
import io.migrator.core.cutover.Runbook;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import io.migrator.core.spi.Fence;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * A Redis rollback without a reverse stream ({@code rollback.cache}): a target that refuses SYNC/PSYNC (ElastiCache)
 * cannot be read back, so the runbook goes backwards over nothing to drain. Before the freeze the old cache is emptied of
 * the plan's keys ({@code flush}) or left as it was at the cutover ({@code keep}); then the new server is paused, the
 * application's users get their writes back on the old cache, the traffic switches back, the users lose their writes on
 * the new server. The new server's writes since the cutover are given up, as the plan says; the migration then syncs the
 * new server in full from the old cache. The rollback's state and journal live on the old source, under the reverse
 * plan's name, so a restart undoes or finishes it as it does a cutover.
 */
final class RedisCachePolicy implements Runbook.Host, AutoCloseable {
    private final Plan forward;
    private final Plan reversed;
    private final Supplier<MigrationStatus> forwardStatus;
    private final RedisCutoverJournal journal;
    private final AtomicReference<Phase> phase = new AtomicReference<>(Phase.STREAMING);
    private final List<MigrationStatus.PhaseEntry> entries = new CopyOnWriteArrayList<>();
    private final ChangedKeys none = new ChangedKeys(1);
    final CutoverDriver driver;

    RedisCachePolicy(Plan forward, Supplier<MigrationStatus> forwardStatus) {
        this.forward = forward;
        this.reversed = forward.reversed();
        this.forwardStatus = forwardStatus;
        this.journal = new RedisCutoverJournal(reversed);
        this.driver = new CutoverDriver(reversed, new RedisCutover.Source(reversed, true), new RedisCutover.Target(reversed, forward.name()),
                this);
    }

    /** The state a rollback left on the old source (null: none ran; "started", "no-return", "cut-over"), taken over. */
    String recover() {
        String state = RedisReverse.state(reversed);
        if (state != null) {
            phase.set("cut-over".equals(state) ? Phase.CUT_OVER : Phase.CUTTING_OVER);
            driver.journaled("no-return".equals(state) ? Runbook.NO_RETURN : Runbook.STARTED);
        }
        return state;
    }

    Phase phase() {
        return phase.get();
    }

    /** The rollback has finished: the application writes on the old cache. */
    boolean done() {
        return phase.get() == Phase.CUT_OVER && driver.idle();
    }

    Plan reversed() {
        return reversed;
    }

    /** The forward migration's status, as the runbook's preconditions read it: nothing streams back, so nothing lags. */
    @Override
    public MigrationStatus status() {
        MigrationStatus own = forwardStatus.get();
        return new MigrationStatus(reversed.name(), phase.get(), false, own.worker(), new MigrationStatus.Lag(0.0, 0L, 0L, 0.0, null, null),
                own.snapshot(), own.applied(), own.throughput(), own.validation(), true, List.copyOf(entries), own.error(), own.retries(),
                Instant.now().toString(), "reverse");
    }

    @Override
    public List<TableDef> tables() {
        return List.of();
    }

    @Override
    public ChangedKeys changedKeys() {
        return none;
    }

    /** Nothing streams back: the position read in the freeze is not waited for (the policy gives up what came after it). */
    @Override
    public Fence fence() {
        return (position, wait) -> true;
    }

    @Override
    public void move(Phase next, String why) {
        String at = journal.write(next, why); // first: a move the old source does not hold did not happen
        entries.add(new MigrationStatus.PhaseEntry(next, at, why));
        driver.journaled(why);
        phase.set(next);
    }

    @Override
    public void journal(String detail) {
        String at = journal.write(phase.get(), detail);
        entries.add(new MigrationStatus.PhaseEntry(phase.get(), at, detail));
        driver.journaled(detail);
    }

    @Override
    public void stopStream() {
        // no stream runs while cut over
    }

    @Override
    public void holdStream() {
        // no stream runs while cut over
    }

    @Override
    public boolean rollback() {
        return true;
    }

    @Override
    public String nothingToDrain() {
        return "nothing to drain — no reverse stream (rollback.cache: " + forward.cutover().rollbackCache() + "): the new server's writes "
                + "since the cutover are given up";
    }

    @Override
    public String validationWaiver() {
        return "rollback.cache: " + forward.cutover().rollbackCache() + " — no reverse stream carries the new server's writes back, so "
                + "there is no parity to prove: they are given up, as the plan says";
    }

    /** The direction that streams after the switch: the forward one, a full sync from the old cache. */
    @Override
    public String oppositeDirection() {
        return forward.name();
    }

    @Override
    public void close() {
        journal.close();
    }
}
