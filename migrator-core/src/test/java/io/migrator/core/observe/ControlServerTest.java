package io.migrator.core.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.Secret;
import io.migrator.core.plan.TableFilter;
import io.migrator.core.run.Migration;
import io.migrator.core.run.Rate;
import io.migrator.core.state.History;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import io.migrator.core.state.StatusJson;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The control endpoint without databases: a migration that has not started yet still has a status. */
class ControlServerTest {
    private final HttpClient http = HttpClient.newHttpClient();

    private static Plan plan(Plan.Control control) {
        Endpoint source = new Endpoint(Engine.MARIADB, "127.0.0.1", 1, "u", Secret.of("p"), "shop", List.of(), false);
        Endpoint target = new Endpoint(Engine.MARIADB, "127.0.0.1", 2, "u", Secret.of("p"), "shop", List.of(), false);
        return new Plan("plan.yaml", "orders", source, target, TableFilter.ALL, new Plan.Snapshot(1, 1000),
                new Plan.Cutover(Duration.ofSeconds(30)), control);
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    @org.junit.jupiter.api.io.TempDir
    static java.nio.file.Path stateDir;

    @org.junit.jupiter.api.BeforeAll
    static void ownStateFolder() {
        System.setProperty("migrator.stateDir", stateDir.toString()); // where the worker keeps the token it issues
    }

    /** A POST the CLI on the worker's host would send: JSON, with the token the worker issued. */
    private static HttpRequest.Builder change(String url) {
        return HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + ControlToken.read("orders").orElseThrow())
                .POST(HttpRequest.BodyPublishers.noBody());
    }

    /** The status line of a request sent with this Host header (HttpClient does not let a caller set it). */
    private static int statusWithHost(int port, String method, String path, String host) throws Exception {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
            String request = method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 0\r\nConnection: close\r\n\r\n";
            socket.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String line = new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
                    java.nio.charset.StandardCharsets.US_ASCII)).readLine();
            return Integer.parseInt(line.split(" ")[1]);
        }
    }

    @Test
    void aWorkerThatCannotKeepItsTokenRefusesChangesAndSaysWhy() throws Exception {
        java.nio.file.Path notAFolder = java.nio.file.Files.writeString(stateDir.resolve("a-file"), "x");
        System.setProperty("migrator.stateDir", notAFolder.resolve("state").toString());
        try {
            Plan plan = plan(new Plan.Control("127.0.0.1", 0));
            Migration migration = new Migration(plan, null, null);
            try (ControlServer server = ControlServer.start(plan.control(), migration, () -> "")) {
                String base = "http://127.0.0.1:" + server.port();
                assertThat(send(HttpRequest.newBuilder(URI.create(base + "/api/status"))).statusCode()).isEqualTo(200);
                HttpResponse<String> refused = send(HttpRequest.newBuilder(URI.create(base + "/api/pause"))
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.noBody()));
                assertThat(refused.statusCode()).isEqualTo(401);
                assertThat(refused.body()).contains("could not write its token").contains("set control.token");
                assertThat(migration.paused()).isFalse();
            }
        } finally {
            System.setProperty("migrator.stateDir", stateDir.toString());
        }
    }

    @Test
    void loopbackIsALiteralAddressNeverANamePrefix() {
        for (String yes : List.of("127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "0:0:0:0:0:0:0:1")) {
            assertThat(Plan.Control.isLoopback(yes)).as(yes).isTrue();
        }
        for (String no : List.of("127.attacker.example", "127.0.0.256", "10.0.0.1", "0.0.0.0", "::", "localhost.example", "1127.0.0.1")) {
            assertThat(Plan.Control.isLoopback(no)).as(no).isFalse();
        }
    }

    @Test
    void onLoopbackChangesNeedTheTokenTheWorkerIssuedAndOnlyItsHostNamesAreServed() throws Exception {
        Plan plan = plan(new Plan.Control("127.0.0.1", 0));
        Migration migration = new Migration(plan, null, null);
        java.nio.file.Path file = ControlToken.file("orders");
        try (ControlServer server = ControlServer.start(plan.control(), migration, () -> "")) {
            String base = "http://127.0.0.1:" + server.port();
            assertThat(java.nio.file.Files.getPosixFilePermissions(file)).as("only the worker's user reads the token")
                    .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            assertThat(send(HttpRequest.newBuilder(URI.create(base + "/api/status"))).statusCode()).as("reads stay open").isEqualTo(200);
            for (String path : List.of("/api/pause", "/api/resume", "/api/validate", "/api/cutover", "/api/rollback")) {
                HttpResponse<String> refused = send(HttpRequest.newBuilder(URI.create(base + path)).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.noBody()));
                assertThat(refused.statusCode()).as(path).isEqualTo(401);
                assertThat(refused.body()).contains(file.toString());
            }
            HttpResponse<String> wrong = send(HttpRequest.newBuilder(URI.create(base + "/api/pause")).header("Content-Type", "application/json")
                    .header("Authorization", "Bearer nope").POST(HttpRequest.BodyPublishers.noBody()));
            assertThat(wrong.statusCode()).isEqualTo(401);
            assertThat(migration.paused()).as("nothing paused the migration").isFalse();
            assertThat(send(change(base + "/api/pause")).statusCode()).isEqualTo(200);
            assertThat(migration.paused()).isTrue();

            assertThat(statusWithHost(server.port(), "GET", "/api/status", "127.attacker.example:" + server.port()))
                    .as("a rebinding name that only starts like loopback").isEqualTo(403);
            assertThat(statusWithHost(server.port(), "GET", "/api/status", "localhost:" + server.port())).isEqualTo(200);
            assertThat(statusWithHost(server.port(), "GET", "/api/status", "127.0.0.1:" + server.port())).isEqualTo(200);
        }
        assertThat(file).as("the token goes with the worker").doesNotExist();
    }

    @Test
    void servesStatusMetricsDashboardAndChartLibraryAndPausesAndResumes() throws Exception {
        Plan plan = plan(new Plan.Control("127.0.0.1", 0));
        Migration migration = new Migration(plan, null, null);
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        MigrationMetrics meters = MigrationMetrics.bind(registry, migration);
        try (ControlServer server = ControlServer.start(plan.control(), migration, () -> meters.refreshThen(registry::scrape))) {
            String base = "http://127.0.0.1:" + server.port();
            HttpResponse<String> status = send(HttpRequest.newBuilder(URI.create(base + "/api/status")));
            assertThat(status.statusCode()).isEqualTo(200);
            MigrationStatus parsed = StatusJson.read(status.body());
            assertThat(parsed.name()).isEqualTo("orders");
            assertThat(parsed.phase()).isEqualTo(Phase.PREFLIGHT);
            assertThat(parsed.worker().running()).isTrue();
            assertThat(parsed.worker().listen()).isEqualTo("127.0.0.1:" + server.port());
            assertThat(parsed.lag().seconds()).as("nothing measured yet: unknown, not zero").isNull();
            assertThat(status.body()).contains("\"lag\":{\"seconds\":null,\"events\":0");
            for (String field : List.of("\"snapshot\":{\"tablesDone\"", "\"tablesTotal\"", "\"rowsCopied\"", "\"applied\":{\"events\"",
                    "\"position\"", "\"validation\":{\"state\":\"never\",\"mismatches\":0", "\"cutoverReady\":false")) {
                assertThat(status.body()).contains(field);
            }

            HttpResponse<String> get = send(HttpRequest.newBuilder(URI.create(base + "/api/pause")));
            assertThat(get.statusCode()).as("pause is a POST").isEqualTo(405);
            assertThat(migration.paused()).isFalse();
            HttpResponse<String> pause = send(change(base + "/api/pause"));
            assertThat(pause.statusCode()).isEqualTo(200);
            assertThat(StatusJson.read(pause.body()).paused()).isTrue();
            assertThat(migration.paused()).isTrue();
            String metrics = send(HttpRequest.newBuilder(URI.create(base + "/metrics"))).body();
            assertThat(metrics).contains("migrator_paused{migration=\"orders\"} 1.0")
                    .contains("migrator_phase{migration=\"orders\",phase=\"PREFLIGHT\"} 1.0")
                    .contains("migrator_phase{migration=\"orders\",phase=\"STREAMING\"} 0.0")
                    .contains("migrator_lag_seconds{migration=\"orders\"} NaN")
                    .contains("migrator_events_applied_total{migration=\"orders\"} 0.0");
            send(change(base + "/api/resume"));
            assertThat(migration.paused()).isFalse();
            // what a page on another site could send to a loopback port: a plain form POST, or any request with its Origin
            HttpResponse<String> form = send(HttpRequest.newBuilder(URI.create(base + "/api/pause"))
                    .header("Authorization", "Bearer " + ControlToken.read("orders").orElseThrow()) // even with the token
                    .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString("a=b")));
            assertThat(form.statusCode()).isEqualTo(415);
            HttpResponse<String> foreign = send(HttpRequest.newBuilder(URI.create(base + "/api/pause")).header("Origin", "http://evil.example")
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.noBody()));
            assertThat(foreign.statusCode()).isEqualTo(403);
            assertThat(migration.paused()).as("neither paused the migration").isFalse();
            HttpResponse<String> badJson = send(HttpRequest.newBuilder(URI.create(base + "/api/validate"))
                    .header("Content-Type", "application/json").header("Authorization", "Bearer " + ControlToken.read("orders").orElseThrow())
                    .POST(HttpRequest.BodyPublishers.ofString("{not json")));
            assertThat(badJson.statusCode()).isEqualTo(400);

            HttpResponse<String> page = send(HttpRequest.newBuilder(URI.create(base + "/")));
            assertThat(page.statusCode()).isEqualTo(200);
            assertThat(page.body()).contains("id=\"lag-seconds\"").contains("/webjars/uplot/");
            HttpResponse<String> chart = send(HttpRequest.newBuilder(URI.create(base + "/webjars/uplot/1.6.30/dist/uPlot.iife.min.js")));
            assertThat(chart.statusCode()).isEqualTo(200);
            assertThat(chart.body()).contains("uPlot");
            assertThat(send(HttpRequest.newBuilder(URI.create(base + "/webjars/../../etc/passwd"))).statusCode()).isEqualTo(404);
            HttpResponse<String> history = send(HttpRequest.newBuilder(URI.create(base + "/api/history")));
            assertThat(history.body()).startsWith("{\"t\":[");
        }
    }

    @Test
    void aTokenGuardsEveryEndpoint() throws Exception {
        Plan plan = plan(new Plan.Control("127.0.0.1", 0, Secret.of("t0ken")));
        Migration migration = new Migration(plan, null, null);
        try (ControlServer server = ControlServer.start(plan.control(), migration, () -> "")) {
            String base = "http://127.0.0.1:" + server.port();
            for (String path : List.of("/api/status", "/metrics", "/api/history")) {
                HttpResponse<String> refused = send(HttpRequest.newBuilder(URI.create(base + path)));
                assertThat(refused.statusCode()).as(path).isEqualTo(401);
                assertThat(refused.body()).doesNotContain("t0ken");
            }
            assertThat(send(HttpRequest.newBuilder(URI.create(base + "/"))).statusCode())
                    .as("the page holds no data and takes the token from its #fragment").isEqualTo(200);
            HttpResponse<String> wrong = send(HttpRequest.newBuilder(URI.create(base + "/api/pause"))
                    .header("Authorization", "Bearer nope").header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.noBody()));
            assertThat(wrong.statusCode()).isEqualTo(401);
            assertThat(migration.paused()).isFalse();
            HttpResponse<String> right = send(HttpRequest.newBuilder(URI.create(base + "/api/pause"))
                    .header("Authorization", "Bearer t0ken").header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.noBody()));
            assertThat(right.statusCode()).isEqualTo(200);
            assertThat(migration.paused()).isTrue();
        }
    }

    @Test
    void refusesToListenBeyondLoopbackWithoutTokenAndNamesABusyPort() throws Exception {
        Plan open = plan(new Plan.Control("0.0.0.0", 0));
        assertThatThrownBy(() -> ControlServer.start(open.control(), new Migration(open, null, null), () -> ""))
                .isInstanceOf(MigratorException.class).hasMessageContaining("without a token");
        Plan plan = plan(new Plan.Control("127.0.0.1", 0));
        Migration migration = new Migration(plan, null, null);
        try (ControlServer first = ControlServer.start(plan.control(), migration, () -> "")) {
            Plan.Control busy = new Plan.Control("127.0.0.1", first.port());
            assertThatThrownBy(() -> ControlServer.start(busy, migration, () -> ""))
                    .isInstanceOfSatisfying(MigratorException.class, e -> {
                        assertThat(e.code()).isEqualTo(ErrorCode.PREFLIGHT_FAILED);
                        assertThat(e.getMessage()).contains("127.0.0.1:" + first.port());
                        assertThat(e.remedy()).contains("control.listen");
                    });
        }
    }

    @Test
    void historyKeepsTheNewestSamplesInOrderAndRatesSmooth() {
        History history = new History(3);
        for (int i = 1; i <= 5; i++) {
            history.add(new History.Sample(i, (double) i, (long) i, null, null));
        }
        assertThat(history.columns().get("t")).containsExactly(3L, 4L, 5L);
        assertThat(history.columns().get("lagSeconds")).containsExactly(3.0, 4.0, 5.0);
        Rate rate = new Rate();
        assertThat(rate.update(0, 1_000_000_000L)).isNull();
        assertThat(rate.update(100, 2_000_000_000L)).isEqualTo(100.0);
        assertThat(rate.update(100, 3_000_000_000L)).isCloseTo(70.0, org.assertj.core.data.Offset.offset(0.001));
    }
}
