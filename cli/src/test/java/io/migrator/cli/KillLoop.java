package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * The loop every kill test runs: start the real jar ({@code java -Xmx512m -jar migrator.jar run}), wait until a kill
 * window opens, strike at a random moment inside it with SIGKILL, and note the durable phase it struck in. The first two
 * kills get a window of 1.5 s (meant for the copy), the others 3 s.
 */
final class KillLoop {
    static final Path JAR = Path.of("target", "migrator.jar").toAbsolutePath();

    /** Milliseconds until this round's kill window opens (e.g. until the durable phase is past the copy). */
    interface Window {
        /** Called before the round's worker starts (to note what the worker's start will change). */
        default void beforeStart(int round) throws Exception {
        }

        long open(Process worker, int round) throws Exception;
    }

    private final String logName;
    private final Map<String, String> env;
    private final Callable<String> phase;
    final Set<String> phasesKilledIn = new LinkedHashSet<>();
    final List<String> log = new ArrayList<>();

    /** {@code logName}: workers log to target/LOGNAME-worker-N.log; {@code phase}: reads the durable phase. */
    KillLoop(String logName, Map<String, String> env, Callable<String> phase) {
        this.logName = logName;
        this.env = env;
        this.phase = phase;
    }

    String logFile(int round) {
        return "target/" + logName + "-worker-" + round + ".log";
    }

    Process start(Path plan, int round) throws Exception {
        // the workers prefetch and read ahead on batches as small as the test's (failsafe sets the threshold), so kills land
        // while reads run beside the applier's transaction too
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "-Dmigrator.prefetch.minKeys=" + System.getProperty("migrator.prefetch.minKeys", "256"),
                "-jar", JAR.toString(), "run", plan.toString(), "--listen", "127.0.0.1:0")
                .redirectErrorStream(true)
                .redirectOutput(new File(logFile(round)));
        builder.environment().putAll(env);
        String state = System.getProperty("migrator.stateDir"); // where the in-process CLI looks for the worker's control token
        if (state != null) {
            builder.environment().putIfAbsent("MIGRATOR_STATE_DIR", state);
        }
        return builder.start();
    }

    /** Polls the durable phase until it is none of {@code phases} (or 60 s pass); returns the milliseconds waited. */
    long untilPast(Process worker, String... phases) throws Exception {
        long started = System.currentTimeMillis();
        while (System.currentTimeMillis() - started < 60_000 && worker.isAlive() && List.of(phases).contains(phase.call())) {
            Thread.sleep(50);
        }
        return System.currentTimeMillis() - started;
    }

    /** Starts a worker {@code kills} times and kills each with SIGKILL at a random moment of its window. */
    void kill(Path plan, int kills, Random random, Window window) throws Exception {
        for (int i = 0; i < kills; i++) {
            window.beforeStart(i);
            Process worker = start(plan, i);
            long open = window.open(worker, i);
            long delay = open + random.nextInt(i < 2 ? 1_500 : 3_000);
            boolean exited = worker.waitFor(delay - open, TimeUnit.MILLISECONDS);
            assertThat(exited).as("the worker died by itself; see %s", logFile(i)).isFalse();
            String struck = phase.call();
            worker.destroyForcibly().waitFor(); // SIGKILL
            phasesKilledIn.add(struck);
            log.add("kill " + i + " after " + delay + " ms in " + struck);
            System.out.println(logName + ": kill -9 " + i + " after " + delay + " ms, durable phase " + struck); // in the CI output
        }
    }

    /**
     * Starts the last worker, waits until {@code caughtUp} holds (3 minutes at most, the worker alive throughout), then
     * stops it with SIGTERM, which must exit 0.
     */
    void finish(Path plan, int round, Callable<Boolean> caughtUp, String goal) throws Exception {
        Process last = start(plan, round);
        long deadline = System.currentTimeMillis() + 180_000;
        while (!caughtUp.call() && System.currentTimeMillis() < deadline) {
            assertThat(last.isAlive()).as("the final worker died; see %s", logFile(round)).isTrue();
            Thread.sleep(300);
        }
        assertThat(caughtUp.call()).as("caught up with %s; log: %s", goal, log).isTrue();
        last.destroy(); // SIGTERM
        assertThat(last.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(last.exitValue()).as("SIGTERM exits 0").isZero();
    }
}
