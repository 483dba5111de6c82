package io.migrator.cli;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.observe.DurableStatus;
import io.migrator.core.observe.StatusJson;
import io.migrator.core.plan.Plan;
import io.migrator.core.run.MigrationStatus;
import io.migrator.core.spi.EngineConnectors;
import io.migrator.core.spi.TargetSession;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * How the thin commands (status, wait, pause, resume) reach a migration: the worker's API at the plan's
 * control.listen when it runs, else the durable state on the target.
 */
final class WorkerClient implements AutoCloseable {
    private final Plan plan;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private TargetSession target;

    WorkerClient(Plan plan) {
        this.plan = plan;
    }

    String base() {
        return "http://" + plan.control().listen();
    }

    /** The worker's live status, or the durable one when no worker answers. */
    MigrationStatus status() {
        MigrationStatus live = live();
        return live != null ? live : durable();
    }

    /** The worker's status, or null when nothing listens at control.listen. */
    MigrationStatus live() {
        try {
            HttpResponse<String> response = http.send(request("/api/status").GET().build(), HttpResponse.BodyHandlers.ofString());
            return check(response);
        } catch (ConnectException e) {
            return null; // nothing listens: no worker runs
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, "the worker at " + base() + " did not answer: " + e,
                    "look at the worker's log; if it is stuck, stop it (SIGTERM) and `migrator run` again: it resumes from its checkpoint", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.INTERNAL, "interrupted", "run the command again");
        }
    }

    /** POSTs to a control endpoint; the worker must be running. */
    MigrationStatus post(String action) {
        try {
            HttpResponse<String> response = http.send(request("/api/" + action).POST(HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.ofString());
            return check(response);
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, "no worker answers for migration " + plan.name() + " at " + base()
                    + " (" + e.getClass().getSimpleName() + ")", "start it with `migrator run " + plan.file() + "`; " + action
                    + " acts on a running worker");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.INTERNAL, "interrupted", "run the command again");
        }
    }

    /** Asks the running worker to validate (it fences on its own applied position and repairs through its applier). */
    io.migrator.core.validate.ValidationReport validate(java.util.List<String> tables, boolean repair) {
        String body = io.migrator.core.observe.StatusJson.write(java.util.Map.of("tables", tables, "repair", repair));
        try {
            HttpResponse<String> response = http.send(request("/api/validate").timeout(Duration.ofHours(48))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 409) {
                var error = io.migrator.core.observe.StatusJson.mapper().readTree(response.body()).path("error");
                throw new MigratorException(ErrorCode.valueOf(error.path("code").asText("INTERNAL")), error.path("message").asText(),
                        error.path("remedy").asText(null));
            }
            if (response.statusCode() != 200) {
                check(response);
            }
            return io.migrator.core.observe.StatusJson.mapper().readValue(response.body(), io.migrator.core.validate.ValidationReport.class);
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, "the worker at " + base() + " did not finish the validation: " + e,
                    "look at the worker's log, then validate again", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.INTERNAL, "interrupted", "validate again");
        }
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json"); // the worker takes control POSTs only as JSON
        if (!plan.control().token().isEmpty()) {
            builder.header("Authorization", "Bearer " + plan.control().token().reveal());
        }
        return builder;
    }

    private MigrationStatus check(HttpResponse<String> response) {
        if (response.statusCode() == 401) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the worker at " + base() + " refused the request: wrong or missing "
                    + "control token", "set control.token in the plan to the token the worker was started with");
        }
        if (response.statusCode() != 200) {
            throw new MigratorException(ErrorCode.INTERNAL, "the worker at " + base() + " answered HTTP " + response.statusCode(),
                    "look at the worker's log");
        }
        MigrationStatus status;
        try {
            status = StatusJson.read(response.body());
        } catch (RuntimeException e) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "something else answers at " + base() + ": not a migrator worker",
                    "give the migration its own control.listen port in the plan", e);
        }
        if (!plan.name().equals(status.name())) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, base() + " serves migration '" + status.name() + "', not '"
                    + plan.name() + "'", "give each migration its own control.listen port in its plan");
        }
        return status;
    }

    /** Reads the bookkeeping on the target (one connection kept for repeated polls). */
    MigrationStatus durable() {
        MigrationStatus stored = EngineConnectors.discover().forEngine(plan.target().engine()).storedStatus(plan);
        if (stored != null) {
            return stored;
        }
        if (target == null) {
            target = EngineConnectors.discover().forEngine(plan.target().engine()).openTarget(plan);
        }
        return DurableStatus.read(plan, target);
    }

    @Override
    public void close() {
        if (target != null) {
            target.close();
        }
    }
}
