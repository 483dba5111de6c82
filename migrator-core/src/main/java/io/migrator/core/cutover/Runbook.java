package io.migrator.core.cutover;

import io.migrator.core.apply.ChangedKeys;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.SwitchStep;
import io.migrator.core.schema.TableDef;
import io.migrator.core.spi.CutoverCheck;
import io.migrator.core.spi.Fence;
import io.migrator.core.spi.CutoverSource;
import io.migrator.core.spi.CutoverTarget;
import io.migrator.core.state.CutoverReport;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cutover (ARCHITECTURE.md rule 6): preconditions, then inside one write-freeze budget: freeze the source, read the
 * fence position inside the freeze and wait until the target applied it, verify the rows changed since the last clean
 * validation, sync sequences / AUTO_INCREMENT, record where reverse replication starts, switch the traffic, freeze the
 * old source for good, open the target. Every step is journaled on the target before and after it runs. Before the
 * first switch step (the point of no return) any failure or overrun aborts: the source is unfrozen and streaming goes
 * on. After it the runbook only goes forward; a failure leaves the phase CUTTING_OVER and a later cutover (or a restart
 * of the worker) finishes it.
 */
public final class Runbook {
    /** The journal detail that marks the point of no return; a restart that finds it goes forward, else it undoes. */
    public static final String NO_RETURN = "cutover: point of no return, switching traffic";
    public static final String STARTED = "cutover: started";
    /** The journal entry that holds where reverse replication starts: the target's own log position read at the fence. */
    public static final String REVERSE_FROM = "cutover: reverse replication starts at ";
    private static final Logger LOG = LoggerFactory.getLogger(Runbook.class);
    /** Lock waits stay short (gh-ost's lesson): the application queues behind a waiting lock. */
    private static final Duration MAX_LOCK_WAIT = Duration.ofSeconds(1);
    /** How long an aborted cutover waits for its move back to STREAMING to be journaled before it reports (the target may be down). */
    private static final Duration JOURNAL_WAIT = Duration.ofSeconds(2);

    /** What the runbook needs of the worker that owns the stream. */
    public interface Host {
        MigrationStatus status();

        List<TableDef> tables();

        ChangedKeys changedKeys();

        Fence fence();

        /** A journaled phase move. */
        void move(Phase next, String why);

        /** A journal entry in the current phase (a step starting or done). */
        void journal(String detail);

        /**
         * Stops the forward stream and returns once no batch is in flight: at the point of no return the fence has proved
         * the target holds every write, and nothing the old source takes after it may be replayed onto the opened target.
         */
        void stopStream();

        /** Holds the applier (nothing is replayed) until `migrator resume`: triggers on the target could not be dropped. */
        void holdStream();

        /**
         * This runbook is a rollback: the reverse direction's cutover. Its parity was proven at the cutover's fence and every
         * row changed on the new server since is verified inside the freeze, so no recent clean validation is required.
         */
        default boolean rollback() {
            return false;
        }

        /** A rollback whose changed keys cover every row changed since the cutover (none went untracked: no restart, no overflow). */
        default boolean rollbackVerifiesAll() {
            return false;
        }

        /**
         * What the fence drains, or null when it drains the stream (the usual case); a rollback that carries nothing back
         * (Redis rollback.cache) says why nothing is waited for.
         */
        default String nothingToDrain() {
            return null;
        }

        /** Why this runbook needs no recent clean validation (a reason engines without row verification give), or null. */
        default String validationWaiver() {
            return null;
        }

        /**
         * The direction that streams out of the target once this runbook has switched: the reverse direction after a cutover,
         * the forward one after a rollback; null when none will (reverse replication off, or an engine without it).
         */
        default String oppositeDirection() {
            return null;
        }
    }

    private final Plan plan;
    private final CutoverJournal journal;
    private final CutoverSource source;
    private final CutoverTarget target;
    private final Host host;
    private final Switches switches;
    private final Supplier<CutoverProgress> progressFactory;

    public Runbook(Plan plan, CutoverSource source, CutoverTarget target, Host host) {
        this.plan = plan;
        this.source = source;
        this.target = target;
        this.host = host;
        this.journal = new CutoverJournal(host);
        this.switches = new Switches(plan);
        this.progressFactory = () -> new CutoverProgress(plan.name());
    }

    public CutoverProgress newProgress(boolean dryRun, Duration budget) {
        CutoverProgress progress = progressFactory.get();
        progress.begin(dryRun, budget);
        return progress;
    }

    /** Runs the whole cutover (or, with {@code dryRun}, its checks and predictions), reporting each step to {@code progress}. */
    public void run(CutoverProgress progress, boolean dryRun, Duration budget) {
        try {
            CutoverCheck.Context context = new CutoverCheck.Context(budget, plan.cutover().applicationUsers(), dryRun, host.rollback());
            List<CutoverCheck> checks = progress.step("preconditions", () -> preconditions(context));
            List<CutoverCheck> failed = checks.stream().filter(c -> !c.passed() && c.blocking()).toList();
            if (!failed.isEmpty()) {
                CutoverCheck first = failed.get(0);
                progress.refused(new MigratorException(ErrorCode.CUTOVER_PRECONDITION, failed.size() + " cutover precondition(s) failed: "
                        + String.join("; ", failed.stream().map(c -> c.name() + ": " + c.message()).toList()), first.remedy()));
                return;
            }
            if (dryRun) {
                predict(progress, budget);
                return;
            }
            String opposite = host.oppositeDirection();
            if (opposite != null) {
                // before the freeze, so it costs the budget nothing: a PostgreSQL slot waits for every running transaction
                long started = System.nanoTime();
                String prepared = target.prepareReverse(opposite); // a failure refuses the cutover: nothing is frozen yet
                if (!prepared.isEmpty()) {
                    progress.stepDone("reverse-slot", (System.nanoTime() - started) / 1_000_000, prepared);
                }
            }
            try {
                cutOver(progress, budget);
            } catch (RuntimeException e) {
                dropPrepared(opposite); // refused before anything was frozen (its journal could not be written)
                throw e;
            }
        } catch (MigratorException e) {
            progress.refused(e);
        } catch (RuntimeException e) {
            LOG.error("the cutover's preconditions failed", e);
            progress.refused(new MigratorException(ErrorCode.INTERNAL, "the cutover's preconditions failed: " + e, "nothing was frozen or "
                    + "changed; run `migrator cutover PLAN --dry-run` again, and look at the worker's log (-vv) for the stack trace", e));
        } finally {
            finished(progress);
        }
    }

    /** No path leaves a report unfinished: a client follows it until it is. */
    private static void finished(CutoverProgress progress) {
        if (!progress.finished()) {
            progress.failed(new MigratorException(ErrorCode.CUTOVER_FAILED, "the cutover stopped without a result",
                    "look at the worker's log and `migrator status`; a restart of the worker finishes or undoes it from its journal"));
        }
    }

    private List<CutoverCheck> preconditions(CutoverCheck.Context context) {
        List<CutoverCheck> checks = new ArrayList<>();
        MigrationStatus status = host.status();
        if (status.phase() != Phase.STREAMING) {
            checks.add(CutoverCheck.fail("phase", "the migration is in " + status.phase() + ", not STREAMING",
                    "wait for it: `migrator wait PLAN --for STREAMING`"));
        }
        Double lag = status.lag().seconds();
        double maxLag = plan.cutover().maxLag().toMillis() / 1000.0;
        if (lag == null || lag > maxLag) {
            checks.add(CutoverCheck.fail("lag", "lag is " + (lag == null ? "unknown" : String.format("%.2f s", lag)) + ", over cutover.maxLag "
                    + maxLag + " s: the drain might not fit the budget", "wait until `migrator wait PLAN --for lag<" + plan.cutover().maxLag().toMillis()
                    + "ms` returns (lower the write load, or raise cutover.maxLag)"));
        } else {
            checks.add(CutoverCheck.pass("lag", String.format("%.2f s (limit %.2f s)", lag, maxLag)));
        }
        checks.add(host.rollbackVerifiesAll() && !"mismatch".equals(status.validation().state())
                ? CutoverCheck.pass("validation", "a rollback: parity held at the cutover's fence, and every row the new server changed "
                + "since is verified inside the freeze") : host.validationWaiver() != null && !"mismatch".equals(status.validation().state())
                ? CutoverCheck.pass("validation", host.validationWaiver()) : validation(status.validation()));
        checks.addAll(switches.check());
        checks.addAll(source.cutoverChecks(context));
        checks.addAll(target.cutoverChecks(context));
        for (CutoverCheck c : checks) {
            if (!c.passed()) {
                LOG.warn("cutover {} {}: {}{}", c.blocking() ? "precondition failed," : "warning,", c.name(), c.message(),
                        c.remedy() == null ? "" : " (" + c.remedy() + ")");
            }
        }
        return checks;
    }

    private CutoverCheck validation(MigrationStatus.Validation last) {
        String remedy = "validate first: `migrator validate PLAN` (repair with --repair), then cut over";
        if (last == null || last.lastRunAt() == null || "never".equals(last.state())) {
            return CutoverCheck.fail("validation", "no validation has run", remedy);
        }
        if (!"passed".equals(last.state())) {
            return CutoverCheck.fail("validation", "the last validation (" + last.lastRunAt() + ") ended " + last.state(), remedy);
        }
        Duration age = Duration.between(Instant.parse(last.lastRunAt()), Instant.now());
        if (age.compareTo(plan.cutover().validatedWithin()) > 0) {
            return CutoverCheck.fail("validation", "the last clean validation finished " + age.toMinutes() + " min ago, longer than "
                    + "cutover.validatedWithin " + plan.cutover().validatedWithin(), remedy);
        }
        return CutoverCheck.pass("validation", "clean, " + age.toSeconds() + " s ago");
    }

    /** The dry run's prediction of each step from the measured lag and the rows to verify; nothing is frozen or changed. */
    private void predict(CutoverProgress progress, Duration budget) {
        Double lag = host.status().lag().seconds();
        long drain = Math.round(Math.max(0.05, lag == null ? 0 : lag) * 1000);
        int keys = host.changedKeys().snapshot().size();
        long verify = Math.min(keys / 20, Math.max(0, budget.toMillis() / 2));
        long switching = plan.cutover().switchSteps().size() * 20L;
        progress.predicted("freeze", 20, "would " + freezeDescription() + " (lock wait at most " + lockWait(budget).toSeconds() + " s)");
        progress.predicted("fence", drain, "would wait for the target to apply the position read inside the freeze (lag now "
                + (lag == null ? "unknown" : String.format("%.2f s", lag)) + ")");
        progress.predicted("verify", verify, "would compare " + keys + " row(s) changed since the last clean validation");
        progress.predicted("sequences", 10L * host.tables().size(), "would raise the target's AUTO_INCREMENT / sequences to the source's");
        progress.predicted("switch", switching, plan.cutover().switchSteps().isEmpty() ? "no switch step"
                : String.join(", ", plan.cutover().switchSteps().stream().map(SwitchStep::describe).toList()));
        progress.predicted("open", 50, "would create the source's triggers on the target");
        long total = 20 + drain + verify + 10L * host.tables().size() + switching + 50;
        progress.finishDryRun(total <= budget.toMillis(), total, budget);
    }

    private String freezeDescription() {
        return switch (plan.cutover().freeze()) {
            case "command" -> "ran " + plan.cutover().freezeCommand().get(0); // its arguments may carry resolved secrets
            case "read-only" -> "SET GLOBAL read_only = ON";
            case "pgbouncer" -> "pgbouncer PAUSE " + String.join(", ", pgbouncerSteps().stream().map(p -> p.database() + " at " + p.admin()).toList());
            case "client-pause" -> "CLIENT PAUSE WRITE, the replication offset read in the same MULTI/EXEC";
            case "revoke" -> "INSERT, UPDATE, DELETE, TRUNCATE revoked from " + String.join(", ", plan.cutover().applicationUsers())
                    + " on " + host.tables().size() + " table(s), their open transactions ended";
            default -> "LOCK TABLES ... READ on " + host.tables().size() + " table(s)";
        };
    }

    private static Duration lockWait(Duration budget) {
        Duration third = budget.dividedBy(3);
        return third.compareTo(MAX_LOCK_WAIT) < 0 ? (third.isZero() ? Duration.ofMillis(1) : third) : MAX_LOCK_WAIT;
    }

    private void cutOver(CutoverProgress progress, Duration budget) {
        journal.move(Phase.CUTTING_OVER, STARTED + ", budget " + budget.toMillis() + " ms");
        long started = System.nanoTime();
        long deadline = started + budget.toNanos();
        // what the steps after the point of no return need (switch, lasting freeze): kept back from the drain
        long reserve = Math.min(Math.max(budget.toNanos() / 5, Duration.ofMillis(100).toNanos()), budget.toNanos() / 2);
        progress.freezeStarted(started);
        try {
            progress.journaled("freeze", journal::async, () -> {
                freeze(lockWait(budget), Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
                return freezeDescription();
            });
            progress.journaled("fence", journal::async, () -> fence(Duration.ofNanos(Math.max(0, deadline - reserve - System.nanoTime()))));
            // children the source's foreign keys changed by cascade are in no log: redone before they are verified
            progress.journaled("cascades", journal::async, () -> target.redoCascades(host.changedKeys().snapshot().byTable()));
            progress.journaled("verify", journal::async, () -> verify(deadline - reserve));
            progress.journaled("sequences", journal::async, this::sequences);
            progress.journaled("reverse-position", journal::async, this::reversePosition);
            // triggers go in before the switch: the first write the application sends to the target must fire them
            progress.journaled("open", journal::async, target::openForWrites);
            if (System.nanoTime() > deadline) {
                throw new MigratorException(ErrorCode.CUTOVER_ABORTED, "the budget of " + budget.toMillis() + " ms ran out before the switch",
                        "cut over again when the write load is lower, or with a larger --max-downtime");
            }
            journal.sync(NO_RETURN); // written, or the cutover aborts: the journal never says less than what was done
        } catch (RuntimeException e) {
            abort(progress, e, started, progress.attempted("open"));
            return;
        }
        finishForward(progress, deadline);
    }

    private String fence(Duration wait) {
        SourcePosition at = source.positionInFreeze();
        if (host.nothingToDrain() != null) {
            return "at " + at.text() + ": " + host.nothingToDrain();
        }
        if (!awaitApplied(at, wait)) {
            throw new MigratorException(ErrorCode.CUTOVER_ABORTED, "the target had not applied the source's position read inside the freeze "
                    + "within the " + wait.toMillis() + " ms the budget left (" + at.text() + "): the applier is held up or behind",
                    "look at what holds the target (locks on its tables, `migrator status` lag), then cut over again");
        }
        return "applied up to " + at.text();
    }

    private String sequences() {
        List<String> moved = target.syncSequences();
        return moved.isEmpty() ? "none behind the source" : String.join(", ", moved);
    }

    private String reversePosition() {
        java.util.Optional<String> at = target.reversePosition();
        at.ifPresent(p -> journal.async(REVERSE_FROM + p)); // in order, before the point of no return: a restart reads it back
        return at.map(p -> "reverse replication can start at " + p).orElse("the target keeps no log a reverse stream could read (warning)");
    }

    /**
     * From the point of no return on: the forward stream stops, the traffic switches, the old source is frozen for good,
     * the target opened if it is not yet. Also what `cutover` again does after a failure here (the freeze is still held).
     */
    public void finishForward(CutoverProgress progress, long deadline) {
        try {
            if (!"command".equals(plan.cutover().freeze()) && !"pgbouncer".equals(plan.cutover().freeze())) {
                source.keepFrozen(); // however long the switch takes (a failed step run again later): no write lands on the old source
            }
            host.stopStream();
            // past the point of no return and before the traffic moves: what a lasting freeze left on the target (a
            // rollback's old source, the next cutover's new server) is lifted, so the first session the switch sends there
            // is let in; an abort can no longer need this server closed
            progress.journaled("admit", journal::async, () -> {
                String admitted = target.admitApplication();
                return admitted.isEmpty() ? "nothing to lift on the target" : "on the target: " + admitted;
            });
            for (SwitchStep step : plan.cutover().switchSteps()) {
                Duration limit = Duration.ofMillis(Math.max(2_000, (deadline - System.nanoTime()) / 1_000_000));
                progress.journaled("switch", journal::async, () -> step.describe() + ": " + switches.run(step, limit));
            }
            progress.journaled("freeze-lasting", journal::async, this::freezeLasting);
            if (!progress.ran("open")) {
                progress.journaled("open", journal::async, target::openForWrites);
            }
            progress.writesOpen();
            journal.move(Phase.CUT_OVER, "cut over: writes open on the target after " + progress.writeFreezeMillis() + " ms");
            progress.finishOk();
        } catch (RuntimeException e) {
            LOG.error("the cutover failed after the point of no return; it goes on forward when run again: {}", e.getMessage());
            try {
                journal.sync("cutover: failed after the point of no return: " + e.getMessage());
            } catch (RuntimeException journal) {
                LOG.warn("could not journal the failure: {}", journal.getMessage());
            }
            MigratorException m = e instanceof MigratorException me && me.code() == ErrorCode.CUTOVER_FAILED ? me
                    : new MigratorException(ErrorCode.CUTOVER_FAILED, "after the point of no return: " + e.getMessage(),
                    "fix the cause, then `migrator cutover PLAN` again: it goes on from the failed step", e);
            progress.failed(m);
        } finally {
            finished(progress);
        }
    }

    /**
     * A restart past the point of no return: the worker's freeze died with it (a lock-tables session) and the old source
     * may have taken writes since. The stream runs (the worker started it); the triggers go until the stream has carried
     * those writes, the source is frozen again, the fence proven again, then the target opens and the cutover finishes.
     */
    public void resumeForward(CutoverProgress progress, Duration budget) {
        long started = System.nanoTime();
        progress.freezeStarted(started);
        try {
            progress.journaled("close-target", journal::async, target::closeForWrites);
            progress.journaled("freeze", journal::async, () -> {
                freeze(lockWait(budget), budget);
                return freezeDescription();
            });
            // no abort is possible any more: the fence may take as long as the stream needs, within a generous limit
            progress.journaled("fence", journal::async, () -> fence(budget.plus(Duration.ofMinutes(5))));
            progress.journaled("sequences", journal::async, this::sequences);
            // read again after this fence: what the stream carried to the target since the first one must not come back
            progress.journaled("reverse-position", journal::async, this::reversePosition);
            progress.journaled("open", journal::async, target::openForWrites);
        } catch (RuntimeException e) {
            LOG.error("finishing the interrupted cutover failed: {}", e.getMessage());
            progress.failed(new MigratorException(ErrorCode.CUTOVER_FAILED, "finishing the cutover after a restart past its point of no return: "
                    + e.getMessage(), "fix the cause, then `migrator cutover PLAN` again: it goes on forward", e));
            return;
        }
        finishForward(progress, System.nanoTime() + budget.toNanos());
    }

    private boolean awaitApplied(SourcePosition at, Duration wait) {
        try {
            return host.fence().awaitApplied(at, wait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.CUTOVER_ABORTED, "the worker is stopping", "cut over again once it runs");
        }
    }

    private void freeze(Duration lockWait, Duration limit) {
        switch (plan.cutover().freeze()) {
            case "command" -> Commands.run(plan.cutover().freezeCommand(), commandEnv(), limit, "freeze command");
            case "pgbouncer" -> {
                for (SwitchStep.Pgbouncer step : pgbouncerSteps()) {
                    switches.pgbouncers().pause(step, lockWait);
                }
            }
            default -> source.freezeWrites(lockWait, limit);
        }
    }

    private void unfreeze() {
        switch (plan.cutover().freeze()) {
            case "command" -> Commands.run(plan.cutover().unfreezeCommand(), commandEnv(), Duration.ofSeconds(30),
                    "unfreeze command");
            case "pgbouncer" -> {
                for (SwitchStep.Pgbouncer step : pgbouncerSteps()) {
                    switches.pgbouncers().resume(step);
                }
            }
            default -> source.unfreezeWrites();
        }
    }

    private List<SwitchStep.Pgbouncer> pgbouncerSteps() {
        return plan.cutover().switchSteps().stream().filter(SwitchStep.Pgbouncer.class::isInstance).map(SwitchStep.Pgbouncer.class::cast).toList();
    }

    /** What the freeze and unfreeze commands are told: the plan, and which way the runbook goes (a rollback is "reverse"). */
    private Map<String, String> commandEnv() {
        return Map.of("MIGRATOR_PLAN", plan.name(), "MIGRATOR_DIRECTION", host.rollback() ? "reverse" : "forward");
    }

    private String freezeLasting() {
        if ("command".equals(plan.cutover().freeze()) && host.rollback()) {
            // the traffic points at the old source again: the application's freeze ends there (the cutover's lasting one too)
            Commands.run(plan.cutover().unfreezeCommand(), commandEnv(), Duration.ofSeconds(30), "unfreeze command");
            return "freeze: command: ran the unfreeze command " + plan.cutover().unfreezeCommand().get(0)
                    + " once the traffic pointed at the old source";
        }
        if ("command".equals(plan.cutover().freeze())) {
            return "freeze: command: the application stays frozen on the old source until your unfreeze command runs (rollback, complete)";
        }
        // the application's logins are locked and their sessions ended (those queued behind the freeze too): the source's
        // table locks can go; without logins to lock they stay held while this worker runs
        return source.freezeLasting(plan.cutover().applicationUsers());
    }

    /** Compares the rows changed since the last clean validation on both sides until {@code until} (nanoTime). */
    private String verify(long until) {
        if (host.tables().isEmpty()) {
            return "no rows to hash: key parity is the validation's (the last clean one is within cutover.validatedWithin)";
        }
        java.util.concurrent.ExecutorService sideBySide = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "cutover-verify");
            t.setDaemon(true);
            return t;
        });
        try {
            return verify(until, sideBySide);
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        } finally {
            sideBySide.shutdownNow();
        }
    }

    private String verify(long until, java.util.concurrent.Executor sideBySide) {
        ChangedKeys.Snapshot changed = host.changedKeys().snapshot();
        var sourceSums = source.checksums();
        var targetSums = target.checksums();
        long compared = 0;
        long uncheckable = 0;
        boolean outOfTime = false;
        for (TableDef table : host.tables()) {
            List<io.migrator.core.change.RowKey> keys = changed.byTable().getOrDefault(table.id(), List.of());
            List<String> texts = new ArrayList<>();
            for (var key : keys) {
                var text = sourceSums.keyText(table, key);
                if (text.isPresent()) {
                    texts.add(text.get());
                } else {
                    uncheckable++;
                }
            }
            for (int from = 0; from < texts.size(); from += 2_000) {
                if (System.nanoTime() > until) {
                    outOfTime = true;
                    break;
                }
                List<String> part = texts.subList(from, Math.min(texts.size(), from + 2_000));
                // both sides at once: the freeze waits for the slower one, not for the two in turn
                java.util.concurrent.CompletableFuture<Map<String, String>> onSource = java.util.concurrent.CompletableFuture.supplyAsync(
                        () -> sourceSums.rowHashes(table, part), sideBySide);
                Map<String, String> t = targetSums.rowHashes(table, part);
                Map<String, String> s = onSource.join();
                for (String key : part) {
                    if (!java.util.Objects.equals(s.get(key), t.get(key))) {
                        throw new MigratorException(ErrorCode.CUTOVER_ABORTED, "row " + key + " of " + table.id() + " differs on the target "
                                + "after the fence (" + (s.get(key) == null ? "not on the source" : t.get(key) == null ? "missing on the target"
                                : "different values") + ")", "find out what wrote to the target; `migrator validate PLAN --repair`, then cut over again");
                    }
                }
                compared += part.size();
            }
            if (outOfTime) {
                break;
            }
        }
        int total = changed.size();
        String detail = compared + " of " + total + " row(s) changed since the last clean validation compared equal";
        if (uncheckable > 0) {
            detail += "; " + uncheckable + " with keys this engine cannot look up by text were not compared";
        }
        if (outOfTime) {
            detail += "; the budget left no time for the rest";
        }
        if (changed.partial()) {
            detail += "; not every change since the last clean validation is tracked (some came before this worker started, or more "
                    + "than 200000 rows changed): validate again before the cutover to have them all verified";
        }
        return detail;
    }

    /** What {@link CutoverTarget#prepareReverse} made for a cutover that does not happen, dropped; failures logged. */
    private void dropPrepared(String opposite) {
        if (opposite == null) {
            return;
        }
        try {
            String dropped = target.dropReverse(opposite);
            if (!dropped.isEmpty()) {
                LOG.info("no cutover: {}", dropped);
            }
        } catch (RuntimeException e) {
            LOG.warn("could not drop what was prepared for {} on the target (drop it by hand, or `migrator complete` does: it holds "
                    + "the target's log): {}", opposite, e.getMessage());
        }
    }

    /**
     * Undoes what ran before the point of no return: the triggers the opening created are dropped first (the stream
     * runs, and the source's writes after the unfreeze must not fire them on the target), then the source unfrozen.
     */
    private void abort(CutoverProgress progress, RuntimeException cause, long started, boolean opened) {
        MigratorException why = cause instanceof MigratorException m ? m
                : new MigratorException(ErrorCode.CUTOVER_ABORTED, cause.toString(), "look at the worker's log, then cut over again", cause);
        LOG.warn("cutover aborted: {}", why.getMessage());
        MigratorException closeFailed = null;
        if (opened) {
            try {
                progress.step("close-target", target::closeForWrites);
            } catch (RuntimeException e) {
                host.holdStream(); // nothing replays through the triggers until they are gone
                closeFailed = new MigratorException(ErrorCode.CUTOVER_FAILED, "the cutover aborted (" + why.getMessage() + "), and dropping the "
                        + "triggers it had created on the target failed: " + e.getMessage() + "; the applier is held", "drop the triggers of "
                        + "the plan's tables on the target by hand, then `migrator resume PLAN`");
            }
        }
        try {
            progress.step("unfreeze", () -> {
                unfreeze();
                return "the source takes writes again";
            });
        } catch (RuntimeException e) {
            LOG.error("unfreezing the source after the abort failed: {} — unfreeze it by hand", e.getMessage());
            progress.failed(new MigratorException(ErrorCode.CUTOVER_FAILED, "the cutover aborted (" + why.getMessage() + ") before its point "
                    + "of no return, and unfreezing the source failed: " + e.getMessage(), "unfreeze the source by hand (UNLOCK TABLES in the "
                    + "freeze session / SET GLOBAL read_only = OFF / your unfreeze command) or restart the worker, whose journal undoes the "
                    + "cutover; nothing was switched"));
            return;
        }
        progress.writesOpen();
        dropPrepared(host.oppositeDirection());
        String aborted = "cutover aborted after " + (System.nanoTime() - started) / 1_000_000 + " ms: " + why.getMessage();
        // the move back to STREAMING is journaled on the target, which may be what failed (a cut, a failover): the abort is
        // reported after at most JOURNAL_WAIT, and the move is made as soon as the target answers; until then status says
        // CUTTING_OVER, and a restart undoes the cutover
        journal.moveAfterAbort(aborted, JOURNAL_WAIT, plan.network().maxOutage());
        if (closeFailed != null) {
            progress.failed(closeFailed);
            return;
        }
        progress.aborted(why.code() == ErrorCode.CUTOVER_ABORTED ? why
                : new MigratorException(ErrorCode.CUTOVER_ABORTED, why.getMessage(), why.remedy(), why));
    }

    /**
     * Ends the lasting freeze when the migration ends (`complete` after CUT_OVER): your unfreeze command for freeze:
     * command, else the engine's (logins unlocked, read_only off). Returns what was done.
     */
    /** What {@link #endLastingFreeze} would do, said without doing it (`complete --dry-run`). */
    public static String lastingFreezeEnd(Plan plan) {
        if ("command".equals(plan.cutover().freeze())) {
            return "the lasting freeze ends: the unfreeze command " + plan.cutover().unfreezeCommand().get(0) + " runs";
        }
        return "the lasting freeze on the old source ends: " + (plan.cutover().applicationUsers().isEmpty() ? "what it holds there is lifted"
                : "what it took from " + String.join(", ", plan.cutover().applicationUsers()) + " there is given back")
                + (plan.source().engine().family() == io.migrator.core.plan.Engine.Family.MYSQL && "read-only".equals(plan.cutover().freeze())
                ? ", read_only OFF" : "");
    }

    public static String endLastingFreeze(Plan plan, CutoverSource source) {
        if ("command".equals(plan.cutover().freeze())) {
            Commands.run(plan.cutover().unfreezeCommand(), Map.of("MIGRATOR_PLAN", plan.name()), Duration.ofSeconds(30), "unfreeze command");
            return "ran the unfreeze command " + plan.cutover().unfreezeCommand().get(0);
        }
        return source.unfreezeLasting(plan.cutover().applicationUsers());
    }

    /**
     * After a restart in CUTTING_OVER before the point of no return: the cutover is undone (triggers dropped, the source
     * unfrozen), and streaming goes on. Runs before the stream starts.
     */
    public void undoAfterRestart(CutoverProgress progress) {
        LOG.info("the cutover was interrupted before its point of no return: undoing it, streaming goes on");
        try {
            abort(progress, new MigratorException(ErrorCode.CUTOVER_ABORTED, "the worker stopped during the cutover, before its point of no return",
                    "cut over again"), System.nanoTime(), true);
        } finally {
            finished(progress);
        }
    }
}
