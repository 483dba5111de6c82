package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.observe.ControlServer;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.DebianPackages;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.junit.jupiter.api.Test;

/**
 * The live dashboard in headless Chromium (Debian package), against a real running migration: the DOM after its
 * scripts ran shows the phase, per-table progress and counts that match the databases, and a screenshot is kept in
 * target/dashboard.png for people to look at.
 */
class DashboardIT extends MariaDbFixtureBase {
    @Test
    void theDashboardShowsTheRunningMigration(SandboxServers servers) throws Exception {
        Path chromium = DebianPackages.ensure("chromium", "chromium", "the dashboard test drives headless Chromium");
        fixture = new MariaDbFixture(servers, "dash");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE accounts (id INT PRIMARY KEY, balance DECIMAL(12,2))");
            st.execute("CREATE TABLE `weird <name>` (id INT PRIMARY KEY)");
            st.execute("INSERT INTO accounts SELECT seq, seq * 1.5 FROM seq_1_to_1234");
            st.execute("INSERT INTO `weird <name>` SELECT seq FROM seq_1_to_10");
        }
        try (MigrationHarness run = new MigrationHarness(fixture.plan("snapshot: {chunkRows: 300}"))) {
            try (ControlServer server = run.serve()) {
                run.awaitPhase(Phase.STREAMING);
                run.awaitCaughtUp();
                assertThat(run.migration.validate(java.util.List.of(), false).ok()).as("a clean validation: ready to cut over").isTrue();
                Thread.sleep(2_500); // a few history samples for the charts
                String url = "http://127.0.0.1:" + server.port() + "/";
                Path dir = Files.createDirectories(Path.of("target", "dashboard-it"));
                Document dom = Jsoup.parse(chromium(chromium, dir, "--dump-dom", url));
                Path shot = Path.of("target", "dashboard.png").toAbsolutePath();
                chromium(chromium, dir, "--screenshot=" + shot, url);

                assertThat(dom.body().attr("data-loaded")).as("the page rendered a status").isEqualTo("true");
                assertThat(text(dom, "#migration-name")).isEqualTo(run.migration.plan().name());
                assertThat(text(dom, "#phase")).isEqualTo("STREAMING");
                assertThat(text(dom, "#paused")).isEqualTo("running");
                assertThat(text(dom, "#rows-copied")).isEqualTo("1244");
                assertThat(text(dom, "#cutover-ready")).isEqualTo("ready");
                assertThat(text(dom, "#lag-seconds")).matches("\\d+(\\.\\d+)? s");
                Element accounts = dom.selectFirst("#tables [data-table=\"" + fixture.database + ".accounts\"]");
                assertThat(accounts).as("a row for the accounts table").isNotNull();
                assertThat(accounts.selectFirst("[data-percent]").attr("data-percent")).isEqualTo("100");
                assertThat(accounts.text()).contains("1234").contains("5 / 5");
                assertThat(dom.selectFirst("#tables [data-table=\"" + fixture.database + ".weird <name>\"]"))
                        .as("an odd table name is shown as text, not markup").isNotNull();
                List<String> phases = new ArrayList<>();
                dom.select("#timeline [data-phase]").forEach(e -> phases.add(e.attr("data-phase")));
                assertThat(phases).containsSubsequence("SCHEMA", "SNAPSHOT", "CATCH_UP", "STREAMING");
                assertThat(dom.select("#chart-lag canvas, #chart-lag .uplot")).as("the lag chart was drawn by uPlot").isNotEmpty();
                assertThat(dom.selectFirst("#error").hasAttr("hidden")).as("no error shown").isTrue();
                assertThat(Files.size(shot)).as("screenshot").isGreaterThan(10_000);
            }
        }
    }

    private static String text(Document dom, String selector) {
        Element element = dom.selectFirst(selector);
        assertThat(element).as(selector).isNotNull();
        return element.text().trim();
    }

    /** Runs headless Chromium with the flags this machine's closed network needs; returns stdout. */
    private static String chromium(Path chromium, Path dir, String action, String url) throws Exception {
        List<String> command = List.of(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                "--user-data-dir=" + dir.resolve("profile").toAbsolutePath(), "--window-size=1280,1400", "--virtual-time-budget=5000",
                action, url);
        Process process = new ProcessBuilder(command).redirectError(dir.resolve("chromium.log").toFile()).start();
        byte[] out = process.getInputStream().readAllBytes();
        assertThat(process.waitFor(90, TimeUnit.SECONDS)).as("chromium finished").isTrue();
        assertThat(process.exitValue()).as("chromium exit code (see " + dir.resolve("chromium.log") + ")").isZero();
        return new String(out, StandardCharsets.UTF_8);
    }
}
