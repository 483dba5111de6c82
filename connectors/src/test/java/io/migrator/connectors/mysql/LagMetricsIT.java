package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.observe.ControlServer;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import io.migrator.core.state.StatusJson;
import io.migrator.sandbox.junit.SandboxServers;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The metrics against known workloads, read over HTTP from /metrics as Prometheus would: copy counters equal the rows
 * on the target, heartbeats keep lag low on an idle source, lag rises while the applier is paused and falls after resume.
 */
class LagMetricsIT extends MariaDbFixtureBase {
    private final HttpClient http = HttpClient.newHttpClient();
    @Test
    void metricsFollowTheWorkload(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "lag");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20))");
            st.execute("CREATE TABLE `odd-name` (k VARCHAR(10) PRIMARY KEY, n INT)");
            st.execute("INSERT INTO items SELECT seq, CONCAT('v', seq) FROM seq_1_to_2345");
            st.execute("INSERT INTO `odd-name` SELECT CONCAT('k', seq), seq FROM seq_1_to_77");
        }
        try (MigrationHarness run = new MigrationHarness(fixture.plan("snapshot: {chunkRows: 500}"))) {
            try (ControlServer server = run.serve()) {
                String base = "http://127.0.0.1:" + server.port();
                run.awaitPhase(Phase.STREAMING);

                // counters match the rows actually copied, table by table
                String db = fixture.database;
                String metrics = get(base + "/metrics");
                assertThat(metric(metrics, "migrator_snapshot_rows_copied_total", "table=\"" + db + ".items\"")).isEqualTo(count("items"));
                assertThat(metric(metrics, "migrator_snapshot_rows_copied_total", "table=\"" + db + ".odd-name\"")).isEqualTo(count("odd-name"));
                assertThat(count("items")).isEqualTo(2345);
                assertThat(metric(metrics, "migrator_snapshot_tables_done", "")).isEqualTo(2);
                assertThat(metric(metrics, "migrator_phase", "phase=\"STREAMING\"")).isEqualTo(1);

                // idle source: only heartbeats flow, and they keep lag true (low) and the batches moving
                double batchesBefore = metric(metrics, "migrator_batches_applied_total", "");
                List<Double> idleLag = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    Thread.sleep(500);
                    idleLag.add(metric(get(base + "/metrics"), "migrator_lag_seconds", ""));
                }
                assertThat(idleLag).as("lag on an idle source").allSatisfy(l -> assertThat(l).isBetween(0.0, 2.0));
                assertThat(metric(get(base + "/metrics"), "migrator_batches_applied_total", "")).isGreaterThan(batchesBefore);

                // paused applier: lag rises while source writes wait in the binlog
                double eventsBefore = metric(get(base + "/metrics"), "migrator_events_applied_total", "");
                post(base + "/api/pause");
                try (Connection c = fixture.source(); PreparedStatement ps = c.prepareStatement("UPDATE items SET v = ? WHERE id = ?")) {
                    for (int i = 1; i <= 50; i++) {
                        ps.setString(1, "paused" + i);
                        ps.setInt(2, i);
                        ps.executeUpdate();
                    }
                }
                List<Double> pausedLag = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    Thread.sleep(600);
                    pausedLag.add(metric(get(base + "/metrics"), "migrator_lag_seconds", ""));
                }
                assertThat(pausedLag).as("lag while paused").isSorted();
                assertThat(pausedLag.get(pausedLag.size() - 1)).isGreaterThan(3.0);
                MigrationStatus paused = StatusJson.read(get(base + "/api/status"));
                assertThat(paused.paused()).isTrue();
                assertThat(paused.cutoverReady()).isFalse();
                assertThat(paused.lag().bytes()).as("binlog written since the applied position").isGreaterThan(1000L);
                assertThat(metric(get(base + "/metrics"), "migrator_paused", "")).isEqualTo(1);
                try (Connection t = fixture.target(); Statement st = t.createStatement();
                     ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM items WHERE v LIKE 'paused%'")) {
                    rs.next();
                    assertThat(rs.getInt(1)).as("nothing applied while paused").isZero();
                }

                // resume: lag falls back below a second and the counters grow by the changes applied
                post(base + "/api/resume");
                double lag = Double.NaN;
                long deadline = System.currentTimeMillis() + 30_000;
                while (System.currentTimeMillis() < deadline) {
                    lag = metric(get(base + "/metrics"), "migrator_lag_seconds", "");
                    if (lag < 1.0) {
                        break;
                    }
                    Thread.sleep(200);
                }
                assertThat(lag).as("lag after resume").isLessThan(1.0);
                run.awaitCaughtUp();
                try (Connection t = fixture.target(); Statement st = t.createStatement();
                     ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM items WHERE v LIKE 'paused%'")) {
                    rs.next();
                    assertThat(rs.getInt(1)).isEqualTo(50);
                }
                metrics = get(base + "/metrics");
                assertThat(metric(metrics, "migrator_events_applied_total", "")).isGreaterThanOrEqualTo(eventsBefore + 50);
                assertThat(metric(metrics, "migrator_paused", "")).isZero();
                MigrationStatus status = StatusJson.read(get(base + "/api/status"));
                assertThat(status.applied().events()).isEqualTo((long) metric(metrics, "migrator_events_applied_total", ""));
                assertThat(status.lag().retentionHeadroomSeconds()).as("the sandbox keeps binlogs a day").isNotNull().isGreaterThan(3600.0);
                assertThat(status.phases()).extracting(MigrationStatus.PhaseEntry::phase)
                        .containsSubsequence(Phase.SCHEMA, Phase.SNAPSHOT, Phase.CATCH_UP, Phase.STREAMING);
                assertThat(get(base + "/api/history")).contains("\"lagSeconds\":[");
            }
        }
    }

    private long count(String table) throws Exception {
        try (Connection t = fixture.target(); Statement st = t.createStatement();
             ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM `" + table + "`")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private String get(String url) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(url).isEqualTo(200);
        return response.body();
    }

    private void post(String url) throws Exception {
        String token = io.migrator.core.observe.ControlToken.read(fixture.plan("").name()).orElseThrow(); // as the CLI on this host
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + token).POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(url).isEqualTo(200);
    }

    /** One sample of the Prometheus text: the metric whose labels contain {@code labels}. */
    static double metric(String text, String name, String labels) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)\\} (\\S+)$").matcher(text);
        while (m.find()) {
            if (m.group(1).contains(labels)) {
                return Double.parseDouble(m.group(2));
            }
        }
        throw new AssertionError("no " + name + "{" + labels + "} in /metrics");
    }
}
