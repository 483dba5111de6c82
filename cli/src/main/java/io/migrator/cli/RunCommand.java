package io.migrator.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "run", description = {"The worker: schema, snapshot, catch-up, streaming; resumes from durable state.",
        "Serves /metrics, /api/status, the control API and the dashboard. SIGTERM checkpoints and exits 0."},
        footer = {"", "Examples:", "  migrator run plans/mariadb-to-mariadb.yaml", "  migrator run plan.yaml --listen 127.0.0.1:9464"})
final class RunCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PLAN", description = "The plan file.")
    Path plan;

    @Option(names = "--listen", paramLabel = "HOST:PORT", description = "Where to serve metrics, status and dashboard (default: the plan's control.listen).")
    String listen;

    @Override
    public Integer call() {
        throw PendingCapability.notYet("run", "the engine pipelines (MySQL/MariaDB, PostgreSQL, Redis)");
    }
}
