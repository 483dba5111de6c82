package io.migrator.core.cutover;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.SwitchStep;
import io.migrator.core.spi.CutoverCheck;
import io.migrator.core.state.StatusJson;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The switch steps: how the application's traffic moves to the target. Each is idempotent (the runbook may run it again
 * after a restart) and checked for reachability before anything is frozen.
 */
final class Switches {
    private static final Duration CONNECT = Duration.ofSeconds(2);

    private final Plan plan;
    private final Pgbouncers pgbouncers;

    Switches(Plan plan) {
        this.plan = plan;
        this.pgbouncers = new Pgbouncers(plan);
    }

    Pgbouncers pgbouncers() {
        return pgbouncers;
    }

    /** Whether each step can be carried out: the proxy answers and knows the server, the program exists, the URL's host listens. */
    List<CutoverCheck> check() {
        List<CutoverCheck> checks = new ArrayList<>();
        if (plan.cutover().switchSteps().isEmpty()) {
            checks.add(CutoverCheck.warn("switch", "cutover.switch lists no step: the cutover stops writes, drains and opens the target, "
                    + "but moving the application's traffic is yours", "add the proxy that fronts the source, e.g. "
                    + "'- haproxy: {admin: 127.0.0.1:13399, backend: mariadb, server: primary}'"));
        }
        for (SwitchStep step : plan.cutover().switchSteps()) {
            String name = "switch reachable: " + step.describe();
            try {
                checks.add(CutoverCheck.pass(name, reachable(step)));
            } catch (MigratorException e) {
                checks.add(CutoverCheck.fail(name, e.getMessage(), e.remedy()));
            }
        }
        return checks;
    }

    private String reachable(SwitchStep step) {
        if (step instanceof SwitchStep.Haproxy h) {
            String state = haproxy(h.admin(), "show servers state " + h.backend());
            if (!Pattern.compile("(?m)^\\d+ " + Pattern.quote(h.backend()) + " \\d+ " + Pattern.quote(h.server()) + " ").matcher(state).find()) {
                throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "HAProxy at " + h.admin() + " has no server " + h.backend() + "/"
                        + h.server() + " (" + firstLine(state) + ")", "name the backend and server of the haproxy.cfg that fronts the source");
            }
            if (h.config() != null && !Files.isWritable(Path.of(h.config()))) {
                throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "HAProxy's configuration " + h.config() + " is not writable by "
                        + "migrator", "let the worker's user write it, or remove config: from the step (a reload would then undo the switch)");
            }
            return "runtime API answers; server " + h.backend() + "/" + h.server() + " found";
        }
        if (step instanceof SwitchStep.Command c) {
            if (!Commands.runnable(c.argv().get(0))) {
                throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, c.argv().get(0) + " is not an executable file",
                        "give the program's path (relative to where the worker runs) and make it executable");
            }
            return c.argv().get(0) + " is executable";
        }
        if (step instanceof SwitchStep.Http http) {
            URI uri = URI.create(http.url());
            int port = uri.getPort() > 0 ? uri.getPort() : "https".equals(uri.getScheme()) ? 443 : 80;
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(uri.getHost(), port), (int) CONNECT.toMillis());
            } catch (IOException e) {
                throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, uri.getHost() + ":" + port + " does not accept connections ("
                        + e.getMessage() + ")", "start the service that flips the traffic, or fix the url");
            }
            return uri.getHost() + ":" + port + " accepts connections";
        }
        if (step instanceof SwitchStep.Pgbouncer p) {
            return pgbouncers.check(p, "pgbouncer".equals(plan.cutover().freeze()));
        }
        throw new IllegalStateException("unknown switch step " + step);
    }

    /** Carries out one step; returns what it did. */
    String run(SwitchStep step, Duration limit) {
        Endpoint target = plan.target();
        if (step instanceof SwitchStep.Haproxy h) {
            String ip = address(target.host());
            String set = haproxy(h.admin(), "set server " + h.backend() + "/" + h.server() + " addr " + ip + " port " + target.port());
            if (!set.isBlank() && !set.contains("changed") && !set.contains("no need to change")) {
                throw new MigratorException(ErrorCode.CUTOVER_FAILED, "HAProxy at " + h.admin() + " refused to repoint " + h.backend() + "/"
                        + h.server() + ": " + firstLine(set), "check the runtime API's level (stats socket ... level admin)");
            }
            // sessions still on the old address (clients queued behind the freeze among them) end: no write reaches the old source
            String shut = haproxy(h.admin(), "shutdown sessions server " + h.backend() + "/" + h.server());
            if (!shut.isBlank()) {
                throw new MigratorException(ErrorCode.CUTOVER_FAILED, "HAProxy at " + h.admin() + " did not end the sessions of " + h.backend()
                        + "/" + h.server() + ": " + firstLine(shut), "end them by hand: shutdown sessions server " + h.backend() + "/" + h.server());
            }
            String saved = h.config() == null ? "" : "; " + rewriteConfig(Path.of(h.config()), h.backend(), h.server(), ip + ":" + target.port());
            return h.backend() + "/" + h.server() + " -> " + ip + ":" + target.port() + ", old sessions shut down" + saved;
        }
        if (step instanceof SwitchStep.Command c) {
            Map<String, String> env = new LinkedHashMap<>();
            env.put("MIGRATOR_PLAN", plan.name());
            env.put("MIGRATOR_TARGET_HOST", target.host());
            env.put("MIGRATOR_TARGET_PORT", Integer.toString(target.port()));
            env.put("MIGRATOR_TARGET_DATABASE", target.database() == null ? "" : target.database());
            String out = Commands.run(c.argv(), env, limit, "switch step " + c.describe());
            return "exit 0" + (out.isEmpty() ? "" : ": " + firstLine(out));
        }
        if (step instanceof SwitchStep.Http http) {
            return http(http, limit);
        }
        if (step instanceof SwitchStep.Pgbouncer p) {
            return pgbouncers.switchTo(p);
        }
        throw new IllegalStateException("unknown switch step " + step);
    }

    private String http(SwitchStep.Http step, Duration limit) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("plan", plan.name());
        body.put("target", Map.of("host", plan.target().host(), "port", plan.target().port(),
                "database", plan.target().database() == null ? "" : plan.target().database()));
        HttpRequest request = HttpRequest.newBuilder(URI.create(step.url())).timeout(limit).header("Content-Type", "application/json")
                .method(step.method(), step.method().equals("GET") ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(StatusJson.write(body))).build();
        try {
            HttpResponse<String> response = HttpClient.newBuilder().connectTimeout(CONNECT).build().send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() / 100 != 2) {
                throw new MigratorException(ErrorCode.CUTOVER_FAILED, step.describe() + " answered HTTP " + response.statusCode() + ": "
                        + firstLine(response.body()), "the service must answer 2xx once traffic points at the target");
            }
            return "HTTP " + response.statusCode();
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, step.describe() + " failed: " + e, "check the service, then cut over again", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.INTERNAL, step.describe() + " was interrupted", "cut over again");
        }
    }

    /** One command on HAProxy's runtime API (non-interactive: it answers and closes). */
    static String haproxy(String admin, String command) {
        int colon = admin.lastIndexOf(':');
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(admin.substring(0, colon), Integer.parseInt(admin.substring(colon + 1))), (int) CONNECT.toMillis());
            socket.setSoTimeout(5_000);
            OutputStream out = socket.getOutputStream();
            out.write((command + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "HAProxy's runtime API at " + admin + " does not answer (" + e.getMessage()
                    + ")", "check the switch step's admin address: haproxy.cfg needs 'stats socket ipv4@HOST:PORT level admin'", e);
        }
    }

    /** HAProxy's server addresses are IPs (a name would need its resolvers section). */
    private static String address(String host) {
        try {
            return InetAddress.getByName(host).getHostAddress();
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, "the target host " + host + " does not resolve", "put its address in the plan", e);
        }
    }

    /** Rewrites {@code server NAME ADDR} in {@code backend} of the file, atomically; the rest of the file is kept byte for byte. */
    static String rewriteConfig(Path file, String backend, String server, String address) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            boolean inBackend = false;
            Pattern line = Pattern.compile("^(\\s*server\\s+" + Pattern.quote(server) + "\\s+)(\\S+)(.*)$");
            for (int i = 0; i < lines.size(); i++) {
                String l = lines.get(i);
                String trimmed = l.trim();
                if (trimmed.matches("(backend|listen|frontend|defaults|global|resolvers|peers|userlist)(\\s.*)?")) {
                    inBackend = trimmed.matches("(backend|listen)\\s+" + Pattern.quote(backend) + "(\\s.*)?");
                    continue;
                }
                Matcher m = line.matcher(l);
                if (inBackend && m.matches()) {
                    if (m.group(2).equals(address)) {
                        return file + " already points at " + address;
                    }
                    lines.set(i, m.group(1) + address + m.group(3));
                    ConfigFiles.replace(file, lines);
                    return file + " rewritten (" + m.group(2) + " -> " + address + ")";
                }
            }
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, file + " has no 'server " + server + "' line in backend " + backend
                    + ": the runtime switch holds until HAProxy reloads", "point that line at " + address + " by hand before any reload");
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, "cannot rewrite " + file + ": " + e.getMessage()
                    + " (the runtime switch holds until HAProxy reloads)", "point its server line at " + address + " by hand before any reload", e);
        }
    }

    private static String firstLine(String text) {
        String t = text == null ? "" : text.strip();
        int nl = t.indexOf('\n');
        return nl < 0 ? t : t.substring(0, nl);
    }
}
