package io.migrator.cli;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Durations;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "wait", description = {"Blocks until a condition holds, polling the worker (or the durable state when none runs):",
        "  PHASE            the migration reached that phase or a later one (SNAPSHOT, CATCH_UP, STREAMING, CUT_OVER...)",
        "  lag<DURATION     a running worker measures lag below DURATION (e.g. lag<1s, lag<500ms); cut over, reverse replication's",
        "  validated        a validation that finished after the wait began passed (exit 5 if it found a mismatch)",
        "Exits 0 when it holds, 4 when --timeout passes first, 5 when the awaited validation found a mismatch,",
        "1 once the migration FAILED (at once when the worker reports it;",
        "after 15 s when no worker runs and the stored state says FAILED, in case one is just starting)."},
        footer = {"", "Examples:", "  migrator wait plan.yaml --for STREAMING --timeout 30m", "  migrator wait plan.yaml --for 'lag<2s' --timeout 10m",
                "  migrator wait plan.yaml --for validated"})
final class WaitCommand implements Callable<Integer> {
    /** The main line, in order: waiting for one of these is satisfied by any later one. */
    private static final List<Phase> MAIN_LINE = List.of(Phase.PREFLIGHT, Phase.SCHEMA, Phase.SNAPSHOT, Phase.CATCH_UP, Phase.STREAMING,
            Phase.CUTTING_OVER, Phase.CUT_OVER, Phase.COMPLETED);

    private static final long FAILED_GRACE_NANOS = 15_000_000_000L;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path planFile;

    @Option(names = "--for", required = true, paramLabel = "PHASE|lag<DURATION|validated", description = "The condition.")
    String condition;

    @Option(names = "--timeout", paramLabel = "DURATION", description = "Give up after this long (exit 4). Default: wait as long as it takes.")
    String timeout;

    @Option(names = "--interval", paramLabel = "DURATION", defaultValue = "500ms", description = "Polling interval (default: ${DEFAULT-VALUE}).")
    String interval;

    /** A parsed --for. */
    record Condition(String text, Phase phase, Duration lagBelow, boolean validated, java.time.Instant since) {
        static Condition parse(String text) {
            String t = text.trim();
            if (t.equalsIgnoreCase("validated")) {
                return new Condition(t, null, null, true, java.time.Instant.now());
            }
            if (t.toLowerCase(Locale.ROOT).startsWith("lag<")) {
                Duration d = Durations.parse(t.substring(4));
                return new Condition(t, null, d, false, null);
            }
            return new Condition(t, Phase.valueOf(t.toUpperCase(Locale.ROOT).replace('-', '_')), null, false, null);
        }

        /** A validation that finished after the wait began: an old pass says nothing about now. */
        boolean fresh(MigrationStatus s) {
            String at = s.validation().lastRunAt();
            return at != null && !java.time.Instant.parse(at).isBefore(since);
        }

        boolean holds(MigrationStatus s) {
            if (validated) {
                return "passed".equals(s.validation().state()) && fresh(s);
            }
            if (lagBelow != null) {
                // cut over, the lag is reverse replication's (direction reverse): what a rollback waits for
                boolean streaming = s.phase() == Phase.CATCH_UP || s.phase() == Phase.STREAMING || s.phase() == Phase.CUTTING_OVER
                        || s.phase() == Phase.CUT_OVER && "reverse".equals(s.direction());
                return streaming && s.worker().running() && s.lag().seconds() != null && s.lag().seconds() * 1000 < lagBelow.toMillis();
            }
            int wanted = MAIN_LINE.indexOf(phase);
            int now = MAIN_LINE.indexOf(s.phase());
            return wanted >= 0 && now >= wanted || s.phase() == phase;
        }
    }

    @Override
    public Integer call() throws InterruptedException {
        Output output = CommandSupport.output(spec);
        Condition wanted;
        try {
            wanted = Condition.parse(condition);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--for '" + condition + "' is not a condition: write a phase ("
                    + String.join(", ", java.util.Arrays.stream(Phase.values()).map(Enum::name).toList()) + "), lag<DURATION (e.g. lag<1s) "
                    + "or validated");
        }
        Duration limit = timeout == null ? null : option("--timeout", timeout);
        long every = Math.max(50, option("--interval", interval).toMillis());
        Plan plan = new PlanLoader().load(planFile);
        long started = System.nanoTime();
        long lastNote = started;
        long failedSince = 0;
        MigrationStatus status;
        try (WorkerClient client = new WorkerClient(plan)) {
            while (true) {
                status = client.status();
                if (wanted.holds(status)) {
                    break;
                }
                if (wanted.validated() && "mismatch".equals(status.validation().state()) && wanted.fresh(status)) {
                    throw new MigratorException(ErrorCode.PARITY_MISMATCH, "the validation that finished at " + status.validation().lastRunAt()
                            + " found " + status.validation().mismatches() + " rows different", "see them with `migrator validate "
                            + planFile + "`, and fix them with --repair");
                }
                boolean failed = status.phase() == Phase.FAILED && wanted.phase() != Phase.FAILED;
                failedSince = failed ? (failedSince == 0 ? System.nanoTime() : failedSince) : 0;
                // A FAILED worker ends the wait at once; a FAILED durable state gets a grace period, since a runbook may
                // have just started `migrator run` again (it resumes from the last good phase).
                if (failed && (status.worker().running() || System.nanoTime() - failedSince > FAILED_GRACE_NANOS)) {
                    String why = status.error() == null ? "" : ": " + status.error().message();
                    throw new MigratorException(ErrorCode.INTERNAL, "migration " + plan.name() + " FAILED while waiting for " + wanted.text() + why,
                            status.error() != null && status.error().remedy() != null ? status.error().remedy()
                                    : "fix the cause from the worker's log, then `migrator run` again");
                }
                long waited = System.nanoTime() - started;
                if (limit != null && waited >= limit.toNanos()) {
                    throw new MigratorException(ErrorCode.TIMED_OUT, "timed out after " + Durations.format(limit) + " waiting for "
                            + wanted.text() + "; now: " + describe(status), "wait longer (--timeout), or look at `migrator status "
                            + planFile + "` for what holds it back");
                }
                if (!output.json() && System.nanoTime() - lastNote > 30_000_000_000L) {
                    output.progress().println("still waiting for " + wanted.text() + ": " + describe(status));
                    lastNote = System.nanoTime();
                }
                Thread.sleep(every);
            }
        }
        long millis = (System.nanoTime() - started) / 1_000_000;
        if (output.json()) {
            Map<String, Object> document = new LinkedHashMap<>();
            document.put("ok", true);
            document.put("condition", wanted.text());
            document.put("waitedMillis", millis);
            document.put("status", status);
            output.out().println(io.migrator.core.state.StatusJson.write(document));
        } else {
            output.out().println(wanted.text() + " holds after " + Durations.format(Duration.ofMillis(millis)) + ": " + describe(status));
        }
        return 0;
    }

    private Duration option(String name, String value) {
        return CommandSupport.duration(spec, name, value);
    }

    private static String describe(MigrationStatus s) {
        String lag = s.lag() == null || s.lag().seconds() == null ? "lag unknown" : "lag " + StatusView.seconds(s.lag().seconds());
        String worker = s.worker() != null && s.worker().running() ? "" : ", no worker running";
        return "phase " + s.phase() + (s.paused() ? " (paused)" : "") + ", " + lag + ", validation " + s.validation().state() + worker;
    }
}
