package io.migrator.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import io.migrator.core.error.ExitCode;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.run.Migration;
import io.migrator.core.spi.EngineConnectors;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "run", description = {"The worker: schema, snapshot, catch-up, streaming; resumes from durable state after any stop.",
        "SIGTERM finishes the batch in flight (its checkpoint commits with it) and exits 0; Ctrl-C exits 130.",
        "Today: MySQL and MariaDB. The /metrics, status API and dashboard endpoint arrives with the lag capability."},
        footer = {"", "Examples:", "  migrator run plans/mariadb-to-mariadb.yaml", "  migrator run plan.yaml -v      # debug detail on stderr"})
final class RunCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path planFile;

    @Option(names = "--listen", paramLabel = "HOST:PORT", description = "Where to serve metrics, status and dashboard (default: the plan's control.listen).")
    String listen;

    @Override
    public Integer call() {
        Output output = CommandSupport.output(spec);
        GlobalOptions global = ((MigratorCommand) spec.root().userObject()).global;
        if (!global.quiet && global.verbosity() == 0 && LoggerFactory.getLogger("io.migrator") instanceof Logger logger) {
            logger.setLevel(Level.INFO); // the worker's log is its progress report
        }
        Plan plan = new PlanLoader().load(planFile);
        if (listen != null) {
            output.progress().println("note: --listen is accepted, but the HTTP endpoint arrives with the lag and status capability");
        }
        EngineConnectors connectors = EngineConnectors.discover();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger exit = new AtomicInteger(ExitCode.OK.code());
        CountDownLatch finished = new CountDownLatch(1);
        SignalHandlers.install(stop, exit, finished);
        try (SourceSession source = connectors.forEngine(plan.source().engine()).openSource(plan);
             TargetSession target = connectors.forEngine(plan.target().engine()).openTarget(plan)) {
            new Migration(plan, source, target).run(stop);
        } finally {
            finished.countDown();
        }
        return exit.get();
    }

    /** SIGTERM and SIGINT ask the worker to stop after the batch in flight; the exit code says which came. */
    static final class SignalHandlers {
        private SignalHandlers() {
        }

        static void install(AtomicBoolean stop, AtomicInteger exit, CountDownLatch finished) {
            handle("TERM", ExitCode.OK.code(), stop, exit);
            handle("INT", ExitCode.INTERRUPTED.code(), stop, exit);
            // Other ways the JVM ends (SIGHUP, System.exit elsewhere): still let the batch in flight finish.
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                stop.set(true);
                try {
                    finished.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "migrator-shutdown"));
        }

        @SuppressWarnings("restriction")
        private static void handle(String signal, int code, AtomicBoolean stop, AtomicInteger exit) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(signal), s -> {
                    exit.set(code);
                    stop.set(true);
                });
            } catch (IllegalArgumentException e) {
                // the signal is not available on this platform; the shutdown hook still stops the worker
            }
        }
    }
}
