package io.migrator.core.observe;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.spi.Worker;
import io.migrator.core.state.StatusJson;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's HTTP endpoint, on loopback by default: {@code /metrics} (Prometheus text), {@code /api/status},
 * {@code /api/history}, {@code POST /api/pause|resume}, the dashboard at {@code /} and its chart library from the
 * WebJar. With a token configured every request must carry {@code Authorization: Bearer TOKEN}.
 */
public final class ControlServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ControlServer.class);
    private static final String DASHBOARD = "io/migrator/core/observe/dashboard/index.html";
    private static final String WEBJARS = "META-INF/resources/webjars/";

    private final HttpServer server;
    private final ExecutorService executor;
    private final Worker migration;
    private final Supplier<String> scrape;
    private final byte[] token;
    /** What a request that changes something must carry: the configured token, else the one issued for this worker. */
    private final byte[] changeToken;
    private final String issued;
    private final Plan.Control control;
    private final boolean loopback;

    private ControlServer(HttpServer server, Worker migration, Supplier<String> scrape, String token, String issued, Plan.Control control) {
        this.server = server;
        this.control = control;
        this.loopback = control.loopback();
        this.issued = issued;
        this.migration = migration;
        this.scrape = scrape;
        this.token = token == null || token.isEmpty() ? null : token.getBytes(StandardCharsets.UTF_8);
        this.changeToken = this.token != null ? this.token : issued == null ? null : issued.getBytes(StandardCharsets.UTF_8);
        this.executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "control-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", this::handle);
    }

    /** Binds and starts; a port in use is a precondition failure naming the setting to change. */
    public static ControlServer start(Plan.Control control, Worker migration, Supplier<String> scrape) {
        if (!control.loopback() && control.token().isEmpty()) {
            throw new MigratorException(ErrorCode.PLAN_INVALID, "the control endpoint " + control.listen()
                    + " would be reachable from other hosts without a token",
                    "set control.token: ${env:MIGRATOR_TOKEN} in the plan, or listen on 127.0.0.1");
        }
        HttpServer server;
        try {
            server = HttpServer.create(new InetSocketAddress(control.listenHost(), control.listenPort()), 16);
        } catch (BindException e) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "cannot listen on " + control.listen() + ": " + e.getMessage()
                    + " (another worker or program holds the port)", "give each migration its own control.listen port in its plan, "
                    + "or pass --listen 127.0.0.1:PORT; `migrator status` finds the worker through its registration on the target", e);
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "cannot listen on " + control.listen() + ": " + e.getMessage(),
                    "check control.listen in the plan", e);
        }
        String configured = control.token().reveal();
        // without a configured token, reads stay open on loopback; changes need a token this worker makes and keeps
        // where only its user (and the CLI on this host) can read it
        String issued = configured.isEmpty() ? ControlToken.issue(migration.plan().name()).orElse(null) : null;
        ControlServer control1 = new ControlServer(server, migration, scrape, configured, issued, control);
        server.start();
        String at = control.at(control.listenHost(), server.getAddress().getPort()).listen();
        migration.servedAt(at);
        LOG.info("serving metrics, status and the dashboard on http://{}/", at);
        return control1;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            route(exchange);
        }
    }

    private void route(HttpExchange exchange) throws IOException {
        try {
            String path0 = exchange.getRequestURI().getPath();
            boolean page = path0.equals("/") || path0.equals("/index.html") || path0.equals("/dashboard") || path0.startsWith("/webjars/");
            if (!trustedOrigin(exchange)) {
                send(exchange, 403, "application/json", "{\"ok\":false,\"error\":{\"code\":\"FORBIDDEN\",\"message\":"
                        + "\"request from another site or host name refused\",\"remedy\":\"call the worker directly, by the address it listens on\"}}");
                return;
            }
            // the page and its chart library hold no data: a browser opening /#token=... must be able to load them
            if (!page && !authorized(exchange)) {
                exchange.getResponseHeaders().add("WWW-Authenticate", "Bearer realm=\"migrator\"");
                send(exchange, 401, "application/json", "{\"ok\":false,\"error\":{\"code\":\"UNAUTHORIZED\",\"message\":"
                        + "\"this worker needs its control token\",\"remedy\":\"send 'Authorization: Bearer <control.token>'; "
                        + "open the dashboard as /#token=...\"}}");
                return;
            }
            String path = exchange.getRequestURI().getPath();
            String method = exchange.getRequestMethod();
            if ("POST".equals(method) && !mayChange(exchange)) {
                exchange.getResponseHeaders().add("WWW-Authenticate", "Bearer realm=\"migrator\"");
                String remedy = changeToken == null
                        // the worker could not keep a token of its own (its state folder is not writable): only a configured one works
                        ? "this worker could not write its token to " + json(ControlToken.file(migration.plan().name()).toString())
                                + ": set control.token in the plan (or MIGRATOR_STATE_DIR to a writable folder) and restart the worker"
                        : "the migrator CLI on the worker's host sends it (it reads " + json(ControlToken.file(migration.plan().name())
                                .toString()) + "); elsewhere set control.token in the plan; open the dashboard as /#token=...";
                send(exchange, 401, "application/json", "{\"ok\":false,\"error\":{\"code\":\"UNAUTHORIZED\",\"message\":"
                        + "\"requests that change something need this worker's control token\",\"remedy\":\"" + remedy + "\"}}");
                return;
            }
            switch (path) {
                case "/metrics" -> send(exchange, 200, "text/plain; version=0.0.4; charset=utf-8", scrape.get());
                case "/api/status" -> send(exchange, 200, "application/json", StatusJson.write(migration.status()));
                case "/api/history" -> send(exchange, 200, "application/json", StatusJson.write(migration.history().columns()));
                case "/api/pause", "/api/resume" -> {
                    if (!post(exchange)) {
                        return;
                    }
                    if (path.endsWith("pause")) {
                        migration.pause();
                    } else {
                        migration.resume();
                    }
                    send(exchange, 200, "application/json", StatusJson.write(migration.status()));
                }
                case "/api/cutover" -> cutover(exchange, false);
                case "/api/rollback" -> cutover(exchange, true);
                case "/api/validate" -> {
                    if (!post(exchange)) {
                        return;
                    }
                    validate(exchange);
                }
                case "/", "/index.html", "/dashboard" -> resource(exchange, DASHBOARD, "text/html; charset=utf-8");
                default -> {
                    if (path.startsWith("/webjars/") && !path.contains("..")) {
                        String file = path.substring("/webjars/".length());
                        resource(exchange, WEBJARS + file, file.endsWith(".css") ? "text/css" : file.endsWith(".js")
                                ? "application/javascript" : "application/octet-stream");
                    } else {
                        send(exchange, 404, "text/plain", "not found: " + path);
                    }
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("control request {} failed: {}", exchange.getRequestURI().getPath(), e.toString());
            try {
                send(exchange, 500, "text/plain", "internal error: " + e.getClass().getSimpleName());
            } catch (IOException | RuntimeException ignored) {
                // the response may already be under way
            }
        }
    }

    /**
     * Answers 405 unless the request is a POST with a JSON content type (control actions change state). A web page on
     * another site can send a plain form POST to loopback without asking; it cannot set this content type without a
     * CORS preflight, which this server never grants.
     */
    private static boolean post(HttpExchange exchange) throws IOException {
        String type = exchange.getRequestHeaders().getFirst("Content-Type");
        if ("POST".equals(exchange.getRequestMethod()) && type != null && type.toLowerCase(java.util.Locale.ROOT).startsWith("application/json")) {
            return true;
        }
        if ("POST".equals(exchange.getRequestMethod())) {
            send(exchange, 415, "application/json", "{\"ok\":false,\"error\":{\"code\":\"CONTENT_TYPE\",\"message\":"
                    + "\"control requests must be sent with Content-Type: application/json\"}}");
            return false;
        }
        exchange.getResponseHeaders().add("Allow", "POST");
        send(exchange, 405, "application/json", "{\"ok\":false,\"error\":{\"code\":\"METHOD\",\"message\":\"use POST\"}}");
        return false;
    }

    /**
     * {@code /api/cutover} or {@code /api/rollback} (the reverse direction's cutover).
     * {@code GET}: the running or last cutover's report (404 when none ran in this worker's life). {@code POST} with body
     * {@code {"dryRun": bool, "maxDowntime": "2s"}}: starts one and answers its report so far (the caller polls GET);
     * an error before it could start is the error document with HTTP 409.
     */
    private void cutover(HttpExchange exchange, boolean rollback) throws IOException {
        String what = rollback ? "rollback" : "cutover";
        if ("GET".equals(exchange.getRequestMethod())) {
            var report = rollback ? migration.rollback() : migration.cutover();
            if (report.isEmpty()) {
                send(exchange, 404, "application/json", "{\"ok\":false,\"error\":{\"code\":\"NO_" + what.toUpperCase(java.util.Locale.ROOT)
                        + "\",\"message\":\"no " + what + " ran in this worker's life\"}}");
            } else {
                send(exchange, 200, "application/json", StatusJson.write(report.get()));
            }
            return;
        }
        if (!post(exchange)) {
            return;
        }
        boolean dryRun = false;
        java.time.Duration maxDowntime = null;
        byte[] body = exchange.getRequestBody().readAllBytes();
        if (body.length > 0) {
            try {
                com.fasterxml.jackson.databind.JsonNode request = StatusJson.mapper().readTree(body);
                dryRun = request.path("dryRun").asBoolean(false);
                String budget = request.path("maxDowntime").asText(null);
                maxDowntime = budget == null || budget.isEmpty() ? null : io.migrator.core.plan.Durations.parse(budget);
            } catch (IOException | RuntimeException e) {
                send(exchange, 400, "application/json", "{\"ok\":false,\"error\":{\"code\":\"BAD_REQUEST\",\"message\":"
                        + "\"send {dryRun: true|false, maxDowntime: '2s'}\"}}");
                return;
            }
        }
        try {
            send(exchange, 200, "application/json", StatusJson.write(rollback ? migration.startRollback(dryRun, maxDowntime)
                    : migration.startCutover(dryRun, maxDowntime)));
        } catch (MigratorException e) {
            refused(exchange, e);
        }
    }

    /** The error document (CLI.md) with HTTP 409: the request was understood and refused. */
    private static void refused(HttpExchange exchange, MigratorException e) throws IOException {
        java.util.Map<String, Object> error = new java.util.LinkedHashMap<>();
        error.put("code", e.code().name());
        error.put("message", e.getMessage());
        error.put("remedy", e.remedy());
        send(exchange, 409, "application/json", StatusJson.write(java.util.Map.of("ok", false, "error", error)));
    }

    /** Body {@code {"tables": [globs], "repair": bool}}; answers the report, or the error document with HTTP 409. */
    private void validate(HttpExchange exchange) throws IOException {
        java.util.List<String> tables = new java.util.ArrayList<>();
        boolean repair = false;
        byte[] body = exchange.getRequestBody().readAllBytes();
        if (body.length > 0) {
            try {
                com.fasterxml.jackson.databind.JsonNode request = StatusJson.mapper().readTree(body);
                request.path("tables").forEach(t -> tables.add(t.asText()));
                repair = request.path("repair").asBoolean(false);
            } catch (IOException e) {
                send(exchange, 400, "application/json", "{\"ok\":false,\"error\":{\"code\":\"BAD_REQUEST\",\"message\":"
                        + "\"the body is not JSON; send {tables: [patterns], repair: true|false}\"}}");
                return;
            }
        }
        try {
            send(exchange, 200, "application/json", StatusJson.write(migration.validate(tables, repair)));
        } catch (MigratorException e) {
            refused(exchange, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            send(exchange, 503, "application/json", "{\"ok\":false,\"error\":{\"code\":\"INTERNAL\",\"message\":\"the worker is stopping\"}}");
        }
    }

    /**
     * Refuses requests a browser sends on behalf of another site: an Origin that is not this server, or (on loopback) a
     * Host header naming something else, which is how DNS rebinding reaches a loopback port.
     */
    private boolean trustedOrigin(HttpExchange exchange) {
        String host = exchange.getRequestHeaders().getFirst("Host");
        String origin = exchange.getRequestHeaders().getFirst("Origin");
        if (origin != null && (host == null || !origin.equals("http://" + host))) {
            return false;
        }
        if (loopback && host != null) {
            String name = host.startsWith("[") ? host.substring(0, host.indexOf(']') + 1) : host.contains(":") ? host.substring(0, host.lastIndexOf(':')) : host;
            // a literal loopback address or the name the plan listens on; any other name may be a rebinding attacker's
            // (127.attacker.example resolves wherever its owner wants)
            return Plan.Control.isLoopback(name) || name.equalsIgnoreCase(control.listenHost())
                    || name.equalsIgnoreCase("[" + control.listenHost() + "]");
        }
        return true;
    }

    /** A POST: carries the token that lets requests change something (no such token could be kept: refused). */
    private boolean mayChange(HttpExchange exchange) {
        if (changeToken == null) {
            return false;
        }
        String header = exchange.getRequestHeaders().getFirst("Authorization");
        return header != null && header.startsWith("Bearer ")
                && MessageDigest.isEqual(changeToken, header.substring(7).trim().getBytes(StandardCharsets.UTF_8));
    }

    private static String json(String text) {
        return text.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    private boolean authorized(HttpExchange exchange) {
        if (token == null) {
            return true;
        }
        String header = exchange.getRequestHeaders().getFirst("Authorization");
        if (header == null || !header.startsWith("Bearer ")) {
            return false;
        }
        return MessageDigest.isEqual(token, header.substring(7).trim().getBytes(StandardCharsets.UTF_8));
    }

    private static void resource(HttpExchange exchange, String name, String type) throws IOException {
        try (InputStream in = ControlServer.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) {
                send(exchange, 404, "text/plain", "not found: " + exchange.getRequestURI().getPath());
                return;
            }
            byte[] body = in.readAllBytes();
            exchange.getResponseHeaders().add("Content-Type", type);
            exchange.getResponseHeaders().add("Cache-Control", name.startsWith(WEBJARS) ? "max-age=86400" : "no-store");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    private static void send(HttpExchange exchange, int code, String type, String text) throws IOException {
        byte[] body = text.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", type);
        exchange.getResponseHeaders().add("Cache-Control", "no-store");
        exchange.sendResponseHeaders(code, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        if (issued != null) {
            ControlToken.withdraw(migration.plan().name(), issued);
        }
    }
}
