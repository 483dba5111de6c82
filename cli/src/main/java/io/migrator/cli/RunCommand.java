package io.migrator.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.ExitCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.observe.ControlServer;
import io.migrator.core.observe.MigrationMetrics;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.run.Migrations;
import io.migrator.core.spi.EngineConnectors;
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
        "Serves /metrics (Prometheus), /api/status, POST /api/pause|resume and the live dashboard at http://<control.listen>/.",
        "Engines: MySQL, MariaDB, PostgreSQL, Redis (standalone and cluster targets)."},
        footer = {"", "Examples:", "  migrator run plans/mariadb-to-mariadb.yaml", "  migrator run plan.yaml --listen 127.0.0.1:9470",
                "  migrator run plan.yaml -v      # debug detail on stderr"})
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
        Plan.Control control = plan.control();
        if (listen != null) {
            try {
                Plan.Control at = Plan.Control.parse(listen);
                control = control.at(at.listenHost(), at.listenPort());
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--listen '" + listen + "' " + e.getMessage()
                        + ": write host:port, e.g. 127.0.0.1:9464");
            }
        }
        EngineConnectors connectors = EngineConnectors.discover();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger exit = new AtomicInteger(ExitCode.OK.code());
        CountDownLatch finished = new CountDownLatch(1);
        SignalHandlers.install(stop, exit, finished);
        // PREFLIGHT: nothing is created on either server (slot, publication, tables) before every check passes; a server
        // that is down (restarting, failing over) is waited for, for network.maxOutage
        try {
            if (new io.migrator.core.preflight.PlanChecker(connectors, java.time.Duration.ofSeconds(10)).requireWaiting(plan, stop::get) == null) {
                return exit.get(); // stopped while waiting for a server
            }
            try (Migrations.OpenWorker opened = new Migrations(connectors).open(plan)) {
                serve(opened.worker(), control, stop);
            }
        } finally {
            finished.countDown(); // also when the preflight fails: the shutdown hook must not wait for a worker that never ran
        }
        return exit.get();
    }

    /** Serves metrics, status and the control API while the worker runs. */
    private static void serve(io.migrator.core.spi.Worker migration, Plan.Control control, AtomicBoolean stop) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags("migration", migration.plan().name());
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        MigrationMetrics metrics = MigrationMetrics.bind(registry, migration);
        // refresh first: meters for tables, retry kinds and error codes that appeared since are in this very scrape
        ControlServer server;
        try {
            server = ControlServer.start(control, migration, () -> metrics.refreshThen(registry::scrape));
        } catch (MigratorException e) {
            throw runningElsewhere(migration.plan()).orElse(e);
        }
        try (server) {
            migration.run(stop);
        }
    }

    /** When the port is taken by this migration's own running worker, the error names that worker instead of the port. */
    private static java.util.Optional<MigratorException> runningElsewhere(Plan plan) {
        try {
            return Migrations.discover().registeredWorker(plan).map(w -> new MigratorException(ErrorCode.WORKER_RUNNING, "migration "
                    + plan.name() + " already runs: a worker (" + w.describe() + ") holds its claim on the target",
                    "follow it with `migrator status " + plan.file() + "`, or stop it (SIGTERM) before starting another worker"));
        } catch (MigratorException unknown) {
            return java.util.Optional.empty(); // the target cannot say: report the port
        }
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
