package io.migrator.cli;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.run.Migrations;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.StatusJson;
import io.migrator.core.state.WorkerRecord;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How the thin commands (status, wait, pause, resume, validate) reach a migration: the worker's API at the plan's
 * control.listen, or at the address the running worker registered on the target (a worker started with
 * {@code run --listen}), else the durable state on the target.
 */
final class WorkerClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WorkerClient.class);
    private final Plan plan;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final Migrations.StoredMigration stored;
    /** Where a worker of this migration answered (control.listen or its registered address). */
    private String found;

    WorkerClient(Plan plan) {
        this.plan = plan;
        this.stored = Migrations.discover().stored(plan);
    }

    /** The worker holding the migration's claim, as it registered on the target (even when its API cannot be reached). */
    java.util.Optional<WorkerRecord> claimedBy() {
        return stored.registeredWorker();
    }

    /** Where the worker answers: the plan's control.listen, or the address the running worker registered on the target. */
    String base() {
        String at = located();
        return "http://" + (at != null ? at : plan.control().listen());
    }

    /** The worker's live status, or the durable one when no worker answers. */
    MigrationStatus status() {
        MigrationStatus live = live();
        return live != null ? live : durable();
    }

    /** The worker's status, or null when no worker of this migration answers. */
    MigrationStatus live() {
        if (found != null) {
            MigrationStatus status = statusAt(found, found.equals(plan.control().listen()));
            if (status != null) {
                return status;
            }
            found = null;
        }
        String planned = plan.control().listen();
        MigrationStatus status = statusAt(planned, true);
        if (status != null) {
            found = planned;
            return status;
        }
        String registered = registered();
        if (registered != null && !registered.equals(planned)) {
            status = statusAt(registered, false);
            if (status != null) {
                found = registered;
                return status;
            }
        }
        return null;
    }

    /** The address where the worker answered last, looking it up when none did yet; null when none answers. */
    private String located() {
        if (found == null) {
            live();
        }
        return found;
    }

    /**
     * This migration's worker status at {@code address}; null when nothing listens there, or something else answers
     * (another migration's worker, another program, a stale registration). {@code planned}: the plan's own address,
     * where a worker that does not answer in time is an error; a registered address that does not answer is none.
     */
    private MigrationStatus statusAt(String address, boolean planned) {
        try {
            HttpResponse<String> response = http.send(request(address, "/api/status").GET().build(), HttpResponse.BodyHandlers.ofString());
            return ours(address, response);
        } catch (ConnectException e) {
            return null; // nothing listens: no worker runs there
        } catch (Untrusted e) {
            if (planned) {
                throw e;
            }
            LOG.warn("{}; showing the durable state instead", e.getMessage());
            return null;
        } catch (IOException e) {
            if (!planned) {
                LOG.debug("the registered worker address {} did not answer: {}", address, e.toString());
                return null; // a registration is a hint: when it does not answer, the durable state does
            }
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, "the worker at http://" + address + " did not answer: " + e,
                    "look at the worker's log; if it is stuck, stop it (SIGTERM) and `migrator run` again: it resumes from its checkpoint", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.INTERNAL, "interrupted", "run the command again");
        }
    }

    /** The address the worker holding the migration's claim registered on the target (it may run with --listen). */
    private String registered() {
        try {
            return stored.registeredWorker().map(WorkerRecord::reachable).orElse(null);
        } catch (MigratorException e) {
            LOG.debug("could not read which worker runs {} from the target: {}", plan.name(), e.getMessage());
            return null; // the target is unreachable: the durable status says so with its own error
        }
    }

    /** POSTs to a control endpoint; the worker must be running. */
    MigrationStatus post(String action) {
        if (located() == null) {
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, "no worker answers for migration " + plan.name() + ": none at its "
                    + "control.listen " + plan.control().listen() + ", and none holds its claim on the target", "start it with `migrator run "
                    + plan.file() + "`; " + action + " acts on a running worker");
        }
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
    io.migrator.core.state.ValidationReport validate(java.util.List<String> tables, boolean repair) {
        String body = io.migrator.core.state.StatusJson.write(java.util.Map.of("tables", tables, "repair", repair));
        try {
            HttpResponse<String> response = http.send(request("/api/validate").timeout(Duration.ofHours(48))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 409) {
                var error = io.migrator.core.state.StatusJson.mapper().readTree(response.body()).path("error");
                throw new MigratorException(ErrorCode.valueOf(error.path("code").asText("INTERNAL")), error.path("message").asText(),
                        error.path("remedy").asText(null));
            }
            if (response.statusCode() != 200) {
                check(response);
            }
            return io.migrator.core.state.StatusJson.mapper().readValue(response.body(), io.migrator.core.state.ValidationReport.class);
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, "the worker at " + base() + " did not finish the validation: " + e,
                    "look at the worker's log, then validate again", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.INTERNAL, "interrupted", "validate again");
        }
    }

    /** Starts a cutover on the running worker (or a dry run); answers its report so far. */
    io.migrator.core.state.CutoverReport startCutover(boolean dryRun, String maxDowntime) {
        return startRunbook("cutover", dryRun, maxDowntime);
    }

    /**
     * Starts the cutover ({@code cutover}) or the rollback ({@code rollback}, the reverse direction's cutover) on the worker
     * and answers its report so far.
     */
    io.migrator.core.state.CutoverReport startRunbook(String kind, boolean dryRun, String maxDowntime) {
        if (located() == null) {
            throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "no worker runs migration " + plan.name() + ": the " + kind
                    + " is performed by the worker that owns the stream", "start it with `migrator run " + plan.file() + "`, then "
                    + (kind.equals("cutover") ? "wait for STREAMING, then cut over" : "roll back once `migrator status` shows direction reverse"));
        }
        java.util.Map<String, Object> body = new java.util.LinkedHashMap<>();
        body.put("dryRun", dryRun);
        if (maxDowntime != null) {
            body.put("maxDowntime", maxDowntime);
        }
        return cutoverCall(request("/api/" + kind).POST(HttpRequest.BodyPublishers.ofString(io.migrator.core.state.StatusJson.write(body))).build());
    }

    /** The running or last cutover's report from the worker. */
    io.migrator.core.state.CutoverReport cutoverReport() {
        return runbookReport("cutover");
    }

    /** The running or last cutover's ({@code cutover}) or rollback's ({@code rollback}) report from the worker. */
    io.migrator.core.state.CutoverReport runbookReport(String kind) {
        return cutoverCall(request("/api/" + kind).GET().build());
    }

    private io.migrator.core.state.CutoverReport cutoverCall(HttpRequest request) {
        try {
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 409 || response.statusCode() == 404 || response.statusCode() == 400) {
                var error = io.migrator.core.state.StatusJson.mapper().readTree(response.body()).path("error");
                String code = error.path("code").asText("INTERNAL");
                ErrorCode known = java.util.Arrays.stream(ErrorCode.values()).anyMatch(c -> c.name().equals(code)) ? ErrorCode.valueOf(code)
                        : ErrorCode.INTERNAL;
                throw new MigratorException(known, error.path("message").asText(), error.path("remedy").asText(null));
            }
            if (response.statusCode() != 200) {
                throw new MigratorException(ErrorCode.INTERNAL, "the worker at " + base() + " answered HTTP " + response.statusCode()
                        + " to a cutover request", "look at the worker's log");
            }
            return io.migrator.core.state.StatusJson.mapper().readValue(response.body(), io.migrator.core.state.CutoverReport.class);
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, "the worker at " + base() + " stopped answering during the cutover: " + e,
                    "look at the worker's log; when it runs again, its journal finishes or undoes the cutover (`migrator status`)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.INTERNAL, "interrupted; the cutover goes on in the worker", "follow it with `migrator status`");
        }
    }

    private HttpRequest.Builder request(String path) {
        return request(located() != null ? found : plan.control().listen(), path);
    }

    private HttpRequest.Builder request(String address, String path) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create("http://" + address + path)).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json"); // the worker takes control POSTs only as JSON
        if (trusted(address)) {
            String token = !plan.control().token().isEmpty() ? plan.control().token().reveal()
                    : io.migrator.core.observe.ControlToken.read(plan.name()).orElse("");
            if (!token.isEmpty()) {
                builder.header("Authorization", "Bearer " + token);
            }
        }
        return builder;
    }

    /** The answer of the located worker to a control request. */
    /**
     * Whether the control token may go to {@code address}: the host the plan's control.listen names (any port: `run
     * --listen` may choose another). An address read from the target's registration is otherwise not trusted with it
     * (whoever can write there could collect it), loopback included (another local program may listen there).
     */
    private boolean trusted(String address) {
        if (address.equals(plan.control().listen())) {
            return true;
        }
        String host = address.substring(0, Math.max(0, address.lastIndexOf(':'))).replace("[", "").replace("]", "");
        String planned = plan.control().listenHost().replace("[", "").replace("]", "");
        // a plan listening on every address of the worker's host names its loopback too
        boolean wildcard = planned.equals("0.0.0.0") || planned.equals("::");
        return host.equalsIgnoreCase(planned) || wildcard && Plan.Control.isLoopback(host);
    }

    private MigrationStatus check(HttpResponse<String> response) {
        String base = "http://" + found;
        MigrationStatus status = ours(found, response);
        if (status == null) {
            throw new MigratorException(ErrorCode.INTERNAL, "the worker at " + base + " answered HTTP " + response.statusCode()
                    + " without its status", "look at the worker's log");
        }
        return status;
    }

    /** The status in a worker's answer; null when the answer is not from this migration's worker. */
    private MigrationStatus ours(String address, HttpResponse<String> response) {
        if (response.statusCode() == 401) {
            if (!trusted(address)) {
                throw new Untrusted(address);
            }
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the worker at http://" + address + " refused the request: wrong or "
                    + "missing control token", "set control.token in the plan to the token the worker was started with");
        }
        if (response.statusCode() != 200) {
            LOG.debug("http://{} answered HTTP {}: not this migration's worker", address, response.statusCode());
            return null;
        }
        MigrationStatus status;
        try {
            status = StatusJson.read(response.body());
        } catch (RuntimeException e) {
            LOG.debug("something else answers at http://{}: not a migrator worker", address);
            return null;
        }
        if (!plan.name().equals(status.name())) {
            LOG.debug("http://{} serves migration '{}', not '{}'", address, status.name(), plan.name());
            return null;
        }
        return status;
    }

    /** A registered worker asked for the control token, which is not sent to its address. */
    private static final class Untrusted extends MigratorException {
        private static final long serialVersionUID = 1L;

        Untrusted(String address) {
            super(ErrorCode.PREFLIGHT_FAILED, "the worker registered at http://" + address + " needs the control token, which migrator "
                    + "sends only to the plan's control.listen host or loopback", "set control.listen in the plan to " + address
                    + " (the address the worker was started with)");
        }
    }

    /** Reads the bookkeeping on the target (one connection kept for repeated polls). */
    MigrationStatus durable() {
        return stored.status();
    }

    @Override
    public void close() {
        stored.close();
    }
}
