package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.AppWriter;
import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.CutoverReport;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.Sandbox;
import io.migrator.sandbox.SandboxEngine;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The cutover on real MariaDB servers behind the sandbox's HAProxy: an application writes through the proxy every 5 ms
 * with its own login and records every acknowledged write. Cut over: every acknowledged write is on the target, the
 * writes after it go to the target (whose trigger, created at the opening, fires), the application's login is locked
 * on the old source, and the report's freeze covers the gap the writer saw. Held back: the cutover aborts within its
 * budget, the source takes writes again and the stream goes on. A dry run changes nothing; a missing validation or a
 * missing login on the target refuses the cutover before anything is frozen.
 */
@ExtendWith(SandboxExtension.class)
class MariaDbCutoverIT {
    private MariaDbFixture fixture;
    private SandboxServers servers;
    private String app;
    private String admin;
    /** When set, the plan reaches the target through this port (a fault proxy). */
    private int targetPort;

    @AfterEach
    void cleanUp() throws Exception {
        if (admin != null) {
            runtime(admin, "set server mariadb/primary addr 127.0.0.1 port " + servers.mariadbSource().port()); // the proxy back on the source
        }
        if (app != null) {
            for (var side : List.of(servers.mariadbSource(), servers.mariadbTarget())) {
                try (Connection c = MariaDbFixture.connect(side); Statement st = c.createStatement()) {
                    st.execute("DROP USER IF EXISTS '" + app + "'@'%'");
                }
            }
        }
        if (fixture != null) {
            fixture.drop();
        }
    }

    /** Tables, a trigger on the source, the application's login on both sides (logins are not replicated), the proxy up. */
    private Plan setUp(SandboxServers servers, String prefix, String cutover) throws Exception {
        this.servers = servers;
        Sandbox sandbox = servers.sandbox();
        sandbox.up(java.util.EnumSet.of(SandboxEngine.MARIADB), true);
        admin = "127.0.0.1:" + (Sandbox.MARIADB_PROXY_ADMIN_PORT + sandbox.portOffset());
        runtime(admin, "set server mariadb/primary addr 127.0.0.1 port " + servers.mariadbSource().port());
        fixture = new MariaDbFixture(servers, prefix);
        app = "app_" + fixture.database.substring(fixture.database.length() - 8);
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(40) NOT NULL, UNIQUE KEY by_note (note))");
            st.execute("CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, order_id INT NOT NULL, "
                    + "CONSTRAINT audit_order FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE)");
            st.execute("INSERT INTO orders (note) SELECT CONCAT('seed-', seq) FROM seq_1_to_2000");
            st.execute("CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit (order_id) VALUES (NEW.id)");
        }
        for (var side : List.of(servers.mariadbSource(), servers.mariadbTarget())) {
            try (Connection c = MariaDbFixture.connect(side); Statement st = c.createStatement()) {
                st.execute("CREATE USER '" + app + "'@'%' IDENTIFIED BY 'app-pw'");
                st.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON `" + fixture.database + "`.* TO '" + app + "'@'%'");
            }
        }
        return fixture.plan("cutover: {maxLag: 3s, applicationUsers: [\"" + app + "@%\"]" + cutover + switchStep() + "}",
                targetPort > 0 ? targetPort : fixture.target.port());
    }

    private String switchStep() {
        return ", switch: [{haproxy: {admin: \"" + admin + "\", backend: mariadb, server: primary}}]";
    }

    @Test
    void cutsOverUnderAWriterThroughTheProxyAndLosesNoAcknowledgedWrite(SandboxServers servers) throws Exception {
        Plan plan = setUp(servers, "cutover", ", maxDowntime: 5s");
        AppWriter writer = new AppWriter(proxyUrl(servers) + "?connectTimeout=2000&socketTimeout=10000", app, "app-pw");
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            writer.start();
            Thread.sleep(500);
            run.awaitCaughtUp();
            assertThat(run.migration.validate(List.of(), false).ok()).isTrue();
            Thread.sleep(500);
            List<Integer> deleted = new ArrayList<>();
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                try (ResultSet rs = st.executeQuery("SELECT id, note FROM orders WHERE note LIKE 'w-%' ORDER BY id LIMIT 5")) {
                    while (rs.next()) {
                        deleted.add(rs.getInt(1));
                        writer.acknowledged.remove(rs.getString(2)); // deleted on purpose: no longer expected anywhere
                    }
                }
                // their audit rows go by the foreign key's cascade, which the binlog does not carry
                st.execute("DELETE FROM orders WHERE id IN (" + deleted.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(",")) + ")");
            }
            assertThat(deleted).hasSize(5);

            long before = System.nanoTime();
            CutoverReport report = cutOver(run, false, null);
            long after = System.nanoTime();
            Thread.sleep(1_000);
            writer.stop();

            assertThat(report.error()).as("%s", report).isNull();
            assertThat(report.ok()).isTrue();
            assertThat(report.steps()).extracting(CutoverReport.Step::name)
                    .containsSubsequence("preconditions", "freeze", "fence", "cascades", "verify", "sequences", "reverse-position", "open", "switch",
                            "freeze-lasting");
            assertThat(report.steps()).allMatch(CutoverReport.Step::ok);
            assertThat(report.writeFreezeMillis()).isPositive().isLessThanOrEqualTo(5_000);
            assertThat(run.migration.status().phase()).isEqualTo(Phase.CUT_OVER);
            assertThat(run.migration.status().lag().seconds()).as("no forward lag once cut over").isNull();

            Set<String> onTarget = notes(fixture.target());
            assertThat(writer.acknowledged).as("acknowledged writes").hasSizeGreaterThan(100);
            assertThat(onTarget).as("every acknowledged write is on the target").containsAll(writer.acknowledged.keySet());
            List<String> afterCutover = writer.acknowledgedAfter(after);
            assertThat(afterCutover).as("the writer wrote on after the cutover").isNotEmpty();
            Set<String> onSource = notes(fixture.source());
            assertThat(onSource).as("the writes after the cutover went to the target only").doesNotContainAnyElementsOf(afterCutover);
            // the gap the writer saw lies within the cutover, and the report's freeze covers it (a write may be in flight either side)
            long gap = writer.longestGapMillis(before, after);
            assertThat(gap).as("the writer's longest gap").isLessThanOrEqualTo(report.writeFreezeMillis() + 1_000);
            assertThat(report.steps()).filteredOn(step -> step.name().equals("cascades")).singleElement()
                    .satisfies(step -> assertThat(step.detail()).contains("audit.audit_order: 5 row(s) deleted"));
            try (Connection c = fixture.target(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM audit "
                    + "WHERE order_id IN (" + deleted.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(",")) + ")")) {
                rs.next();
                assertThat(rs.getLong(1)).as("the cascade the source did is redone on the target").isZero();
            }
            try (Connection c = fixture.target(); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM orders o LEFT JOIN audit a ON a.order_id = o.id WHERE a.id IS NULL AND o.note LIKE 'w-%'")) {
                rs.next();
                assertThat(rs.getLong(1)).as("the trigger created at the opening fired for the writes on the target").isZero();
            }
            try {
                DriverManager.getConnection(servers.mariadbSource().jdbcUrl(fixture.database), app, "app-pw").close();
                throw new AssertionError("the application's login still opens sessions on the old source");
            } catch (SQLException expected) {
                assertThat(expected.getMessage()).containsIgnoringCase("locked");
            }
        } finally {
            writer.stop();
        }
        assertThat(writer.failure.get()).as("the writer's own bug, not a refused write").isNull();
    }

    /**
     * Reverse replication: once cut over, the writes the application makes on the new server (through the proxy, with the
     * trigger created at the opening firing there) stream into the old source, whose own trigger is dropped meanwhile (it
     * would fire a second time on the replayed rows); a worker restarted resumes from the old source's checkpoint; complete
     * ends it, gives the old source its trigger and login back and removes the reverse bookkeeping.
     */
    @Test
    void afterTheCutoverTheNewServersWritesStreamBackIntoTheOldSource(SandboxServers servers) throws Exception {
        Plan plan = setUp(servers, "reverse", ", maxDowntime: 5s");
        AppWriter writer = new AppWriter(proxyUrl(servers) + "?connectTimeout=2000&socketTimeout=10000", app, "app-pw");
        try {
            try (MigrationHarness run = MigrationHarness.withReverse(plan)) {
                run.awaitPhase(Phase.STREAMING);
                writer.start();
                run.awaitCaughtUp();
                assertThat(run.migration.validate(List.of(), false).ok()).isTrue();
                CutoverReport report = cutOver(run, false, null);
                assertThat(report.ok()).as("%s", report).isTrue();
                io.migrator.connectors.testing.CutoverRuns.awaitDirection(run.migration, "reverse");
                assertThat(run.migration.status().phase()).isEqualTo(Phase.CUT_OVER);
                Thread.sleep(1_500); // the application writes on the new server
                writer.stop();
                awaitSame("the new server's writes reach the old source");
                assertThat(triggers(fixture.source())).as("no trigger fires on replayed rows on the old source").isEmpty();
                assertThat(writer.acknowledged).isNotEmpty();
                assertThat(notes(fixture.source())).as("every acknowledged write is on the old source too").containsAll(writer.acknowledged.keySet());
                assertThat(run.migration.status().lag().seconds()).as("the reverse lag is measured").isNotNull();
            }
            // a new worker resumes the reverse stream from the checkpoint it keeps on the old source
            try (Connection c = fixture.target(); Statement st = c.createStatement()) {
                st.execute("INSERT INTO orders (note) VALUES ('while-stopped')");
            }
            try (MigrationHarness again = MigrationHarness.withReverse(plan)) {
                try (Connection c = fixture.target(); Statement st = c.createStatement()) {
                    st.execute("INSERT INTO orders (note) VALUES ('after-restart')");
                    st.execute("UPDATE orders SET note = 'renamed' WHERE note = 'seed-7'");
                    st.execute("DELETE FROM orders WHERE note = 'seed-8'");
                }
                awaitSame("after a restart");
                assertThat(notes(fixture.source())).contains("while-stopped", "after-restart", "renamed").doesNotContain("seed-7", "seed-8");
            }
            assertThat(io.migrator.core.run.Migrations.discover().rollbackPossible(plan)).as("reverse replication keeps the way back open").isTrue();
            var completion = io.migrator.core.run.Migrations.discover().complete(plan);
            assertThat(io.migrator.core.run.Migrations.discover().rollbackPossible(plan)).isFalse();
            assertThat(String.join("; ", completion.released())).contains("reverse replication ended").contains("triggers created: [orders_audit]");
            assertThat(triggers(fixture.source())).containsExactly("orders_audit");
            DriverManager.getConnection(servers.mariadbSource().jdbcUrl(fixture.database), app, "app-pw").close(); // unlocked
            try (Connection c = MariaDbFixture.connect(servers.mariadbSource()); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'migrator' "
                         + "AND TABLE_NAME = 'state'")) {
                rs.next();
                if (rs.getInt(1) > 0) {
                    try (ResultSet left = st.executeQuery("SELECT COUNT(*) FROM migrator.state WHERE migration = '"
                            + Plan.reverseName(plan.name()) + "'")) {
                        left.next();
                        assertThat(left.getInt(1)).as("the reverse bookkeeping is gone from the old source").isZero();
                    }
                }
            }
        } finally {
            writer.stop();
        }
        assertThat(writer.failure.get()).isNull();
    }

    /**
     * The rollback under a writer through the proxy: after a cutover and writes on the new server, `rollback` freezes the
     * new server, drains reverse replication, switches the proxy back and opens the old source (its trigger and the
     * application's login back); every acknowledged write is on the old source, the writes after it land there and stream
     * forward to the new server again (ROLLED_BACK in the phase history, then STREAMING), and a second cutover works.
     */
    @Test
    void rollsBackUnderAWriterThroughTheProxyAndCutsOverAgain(SandboxServers servers) throws Exception {
        Plan plan = setUp(servers, "rollback", ", maxDowntime: 5s");
        AppWriter writer = new AppWriter(proxyUrl(servers) + "?connectTimeout=2000&socketTimeout=10000", app, "app-pw");
        try (MigrationHarness run = MigrationHarness.withReverse(plan)) {
            run.awaitPhase(Phase.STREAMING);
            writer.start();
            run.awaitCaughtUp();
            assertThat(run.migration.validate(List.of(), false).ok()).isTrue();
            assertThat(cutOver(run, false, null).ok()).isTrue();
            io.migrator.connectors.testing.CutoverRuns.awaitDirection(run.migration, "reverse");
            Thread.sleep(1_000); // the application writes on the new server
            assertThat(run.migration.status().cutoverReady()).as("ready for a rollback once the reverse stream caught up").isTrue();

            run.migration.startRollback(true, null);
            CutoverReport dry = io.migrator.connectors.testing.CutoverRuns.awaitRollback(run.migration);
            assertThat(dry.dryRun()).isTrue();
            assertThat(dry.ok()).as("a dry run of the rollback: every precondition holds, nothing frozen %s", dry).isTrue();
            assertThat(run.migration.status().direction()).isEqualTo("reverse");

            long before = System.nanoTime();
            run.migration.startRollback(false, null);
            CutoverReport rollback = io.migrator.connectors.testing.CutoverRuns.awaitRollback(run.migration);
            long after = System.nanoTime();
            assertThat(rollback.ok()).as("%s", rollback).isTrue();
            assertThat(rollback.steps()).extracting(CutoverReport.Step::name)
                    .containsSubsequence("preconditions", "freeze", "fence", "verify", "sequences", "reverse-position", "open", "switch", "freeze-lasting");
            assertThat(rollback.steps()).filteredOn(step -> step.name().equals("open")).first()
                    .satisfies(step -> assertThat(step.detail()).contains("triggers created: [orders_audit]").doesNotContain("unlocked"));
            assertThat(rollback.steps()).extracting(CutoverReport.Step::name).as("the old source admits the application past the point "
                    + "of no return, before the traffic moves to it").containsSubsequence("open", "admit", "switch", "freeze-lasting");
            assertThat(rollback.steps()).filteredOn(step -> step.name().equals("admit")).first()
                    .satisfies(step -> assertThat(step.detail()).contains("on the target: logins unlocked: [" + app + "@%]"));
            assertThat(rollback.steps()).filteredOn(step -> step.name().equals("freeze-lasting")).first()
                    .satisfies(step -> assertThat(step.detail()).contains("locked [" + app + "@%]"));
            assertThat(server(runtime(admin, "show servers state mariadb"))).as("the proxy points at the old source again")
                    .startsWith("127.0.0.1:" + servers.mariadbSource().port() + " ");
            Thread.sleep(1_000); // the application writes on the old source again
            writer.stop();
            assertThat(notes(fixture.source())).as("every acknowledged write is on the old source").containsAll(writer.acknowledged.keySet());
            assertThat(writer.acknowledgedAfter(after)).isNotEmpty();
            assertThat(writer.longestGapMillis(before, after)).isLessThanOrEqualTo(rollback.writeFreezeMillis() + 1_000);

            run.awaitPhase(Phase.STREAMING); // forward again
            assertThat(run.migration.status().direction()).isEqualTo("forward");
            assertThat(run.migration.status().phases()).extracting(MigrationStatus.PhaseEntry::phase)
                    .containsSubsequence(Phase.CUT_OVER, Phase.ROLLED_BACK, Phase.CATCH_UP, Phase.STREAMING);
            run.awaitCaughtUp();
            awaitSame("the old source's writes after the rollback reach the new server");
            assertThat(triggers(fixture.target())).as("the new server is a target again: no trigger fires on replayed rows").isEmpty();
            assertThat(triggers(fixture.source())).containsExactly("orders_audit");
            try {
                DriverManager.getConnection(servers.mariadbTarget().jdbcUrl(fixture.database), app, "app-pw").close();
                throw new AssertionError("the application's login still opens sessions on the new server");
            } catch (SQLException expected) {
                assertThat(expected.getMessage()).containsIgnoringCase("locked");
            }

            // and once more forward: a clean validation, a cutover, reverse replication again
            assertThat(run.migration.validate(List.of(), false).ok()).isTrue();
            CutoverReport second = cutOver(run, false, null);
            assertThat(second.ok()).as("%s", second).isTrue();
            io.migrator.connectors.testing.CutoverRuns.awaitDirection(run.migration, "reverse");
            try (Connection c = DriverManager.getConnection(proxyUrl(servers), app, "app-pw"); Statement st = c.createStatement()) {
                st.execute("INSERT INTO orders (note) VALUES ('after-second-cutover')");
            }
            awaitSame("reverse replication after the second cutover");
            assertThat(notes(fixture.source())).contains("after-second-cutover");
        } finally {
            writer.stop();
        }
        assertThat(writer.failure.get()).isNull();
    }



    /** Waits until the old source holds exactly the new server's orders and audit rows. */
    private void awaitSame(String what) throws Exception {
        long deadline = System.currentTimeMillis() + 60_000;
        List<List<String>> source = null;
        List<List<String>> target = null;
        while (System.currentTimeMillis() < deadline) {
            try (Connection s = fixture.source(); Connection t = fixture.target()) {
                target = MariaDbFixture.rows(t, "orders", "id");
                target.addAll(MariaDbFixture.rows(t, "audit", "id"));
                source = MariaDbFixture.rows(s, "orders", "id");
                source.addAll(MariaDbFixture.rows(s, "audit", "id"));
            }
            if (source.equals(target)) {
                return;
            }
            Thread.sleep(200);
        }
        assertThat(source).as(what).containsExactlyElementsOf(target);
    }

    private List<String> triggers(Connection c) throws SQLException {
        List<String> names = new ArrayList<>();
        try (c; Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
                + "WHERE TRIGGER_SCHEMA = '" + fixture.database + "'")) {
            while (rs.next()) {
                names.add(rs.getString(1));
            }
        }
        return names;
    }

    @Test
    void aHeldTargetAbortsWithinTheBudgetAndTheSourceTakesWritesAgain(SandboxServers servers) throws Exception {
        Plan plan = setUp(servers, "cutabort", ", maxDowntime: 2s");
        AppWriter writer = new AppWriter(proxyUrl(servers) + "?connectTimeout=2000&socketTimeout=10000", app, "app-pw");
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            writer.start();
            run.awaitCaughtUp();
            assertThat(run.migration.validate(List.of(), false).ok()).isTrue();
            CutoverReport report;
            try (Connection hold = fixture.target(); Statement st = hold.createStatement()) {
                st.execute("LOCK TABLES orders WRITE, audit WRITE"); // the applier queues behind it: the fence cannot be reached
                Thread.sleep(300);
                long started = System.nanoTime();
                report = cutOver(run, false, null);
                long took = (System.nanoTime() - started) / 1_000_000;
                assertThat(took).as("aborted within the budget and a margin").isLessThan(2_000 + 3_000);
                st.execute("UNLOCK TABLES");
            }
            assertThat(report.ok()).isFalse();
            assertThat(report.aborted()).isTrue();
            assertThat(report.exitCode()).isEqualTo(4);
            assertThat(report.error().code()).isEqualTo("CUTOVER_ABORTED");
            assertThat(report.steps()).extracting(CutoverReport.Step::name).contains("fence", "unfreeze").doesNotContain("switch");
            assertThat(run.migration.status().phase()).isEqualTo(Phase.STREAMING);
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("INSERT INTO orders (note) VALUES ('after-abort')"); // the source takes writes again
            }
            Thread.sleep(500);
            writer.stop();
            run.awaitCaughtUp();
            Set<String> onTarget = notes(fixture.target());
            assertThat(onTarget).containsAll(writer.acknowledged.keySet()).contains("after-abort");
            assertThat(runtime(admin, "show servers state mariadb")).as("the proxy still points at the source")
                    .contains(" " + servers.mariadbSource().port() + " ");
            try (Connection c = fixture.target(); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")) {
                rs.next();
                assertThat(rs.getInt(1)).as("no trigger on the target while changes replay").isZero();
            }
        } finally {
            writer.stop();
        }
        assertThat(writer.failure.get()).isNull();
    }

    /**
     * The network to the target fails inside the freeze (a fault proxy cuts it as soon as the freeze step is done): the
     * fence cannot be reached, the cutover aborts within its budget before any switch, the source takes writes again, and
     * once the target answers the stream carries every acknowledged write there.
     */
    @Test
    void aTargetCutInsideTheFreezeAbortsBeforeTheSwitchAndLosesNothing(SandboxServers servers) throws Exception {
        try (io.migrator.connectors.testing.FaultProxy targetProxy = new io.migrator.connectors.testing.FaultProxy(
                servers.mariadbTarget().host(), servers.mariadbTarget().port())) {
            targetPort = targetProxy.port();
            Plan plan = setUp(servers, "cutfault", ", maxDowntime: 2s");
            AppWriter writer = new AppWriter(proxyUrl(servers) + "?connectTimeout=2000&socketTimeout=10000", app, "app-pw");
            try (MigrationHarness run = new MigrationHarness(plan)) {
                run.awaitPhase(Phase.STREAMING);
                writer.start();
                run.awaitCaughtUp();
                assertThat(run.migration.validate(List.of(), false).ok()).isTrue();
                CutoverReport report = io.migrator.connectors.testing.CutoverRuns.cutTargetAfterFreeze(run.migration, targetProxy);
                assertThat(report.ok()).as(report.toString()).isFalse();
                assertThat(report.aborted()).as(report.toString()).isTrue();
                assertThat(report.exitCode()).isEqualTo(4);
                assertThat(report.steps()).extracting(CutoverReport.Step::name).contains("freeze", "unfreeze").doesNotContain("switch");
                try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                    st.execute("INSERT INTO orders (note) VALUES ('after-cut-abort')"); // the source takes writes again
                }
                assertThat(runtime(admin, "show servers state mariadb")).as("the proxy still points at the source")
                        .contains(" " + servers.mariadbSource().port() + " ");
                Thread.sleep(500);
                writer.stop();
                run.awaitCaughtUp();
                assertThat(run.failure()).isNull();
                assertThat(run.migration.status().phase()).isEqualTo(Phase.STREAMING);
                Set<String> onTarget = notes(fixture.target());
                assertThat(onTarget).containsAll(writer.acknowledged.keySet()).contains("after-cut-abort");
            } finally {
                writer.stop();
            }
            assertThat(writer.failure.get()).isNull();
            assertThat(writer.acknowledged).as("writes acknowledged around the cutover").isNotEmpty();
        } finally {
            targetPort = 0;
        }
    }

    @Test
    void aDryRunChangesNothingAndMissingPreconditionsRefuseBeforeAnyFreeze(SandboxServers servers) throws Exception {
        Plan plan = setUp(servers, "cutdry", "");
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            run.awaitCaughtUp();
            String proxyBefore = server(runtime(admin, "show servers state mariadb"));

            CutoverReport refused = cutOver(run, false, null);
            assertThat(refused.aborted()).isTrue();
            assertThat(refused.exitCode()).isEqualTo(4);
            assertThat(refused.error().code()).isEqualTo("CUTOVER_PRECONDITION");
            assertThat(refused.error().message()).contains("validation: no validation has run");
            assertThat(refused.steps()).extracting(CutoverReport.Step::name).containsExactly("preconditions");

            assertThat(run.migration.validate(List.of(), false).ok()).isTrue();
            try (Connection c = MariaDbFixture.connect(servers.mariadbTarget()); Statement st = c.createStatement()) {
                st.execute("DROP USER '" + app + "'@'%'");
            }
            CutoverReport noLogin = cutOver(run, false, null);
            assertThat(noLogin.error().code()).isEqualTo("CUTOVER_PRECONDITION");
            assertThat(noLogin.error().message()).contains("application login " + app + "@% on the target").contains("does not exist");
            try (Connection c = MariaDbFixture.connect(servers.mariadbTarget()); Statement st = c.createStatement()) {
                st.execute("CREATE USER '" + app + "'@'%' IDENTIFIED BY 'app-pw'");
                // a target whose binlog cannot feed reverse replication: no rollback would be possible after the switch
                st.execute("SET GLOBAL binlog_row_image = 'MINIMAL'");
            }
            CutoverReport noWayBack;
            try {
                noWayBack = cutOver(run, false, null);
            } finally {
                try (Connection c = MariaDbFixture.connect(servers.mariadbTarget()); Statement st = c.createStatement()) {
                    st.execute("SET GLOBAL binlog_row_image = 'FULL'");
                }
            }
            assertThat(noWayBack.error().code()).isEqualTo("CUTOVER_PRECONDITION");
            assertThat(noWayBack.error().message()).contains("reverse replication: the target's binlog cannot feed reverse replication "
                    + "(binlog_format=ROW, binlog_row_image=MINIMAL)");
            assertThat(noWayBack.steps()).extracting(CutoverReport.Step::name).containsExactly("preconditions");

            // a column the target has and the old source lacks: the reverse stream could not write the target's rows back
            try (Connection c = fixture.target(); Statement st = c.createStatement()) {
                st.execute("ALTER TABLE orders ADD COLUMN extra INT NULL");
            }
            CutoverReport drifted;
            try {
                drifted = cutOver(run, true, Duration.ofSeconds(3));
            } finally {
                try (Connection c = fixture.target(); Statement st = c.createStatement()) {
                    st.execute("ALTER TABLE orders DROP COLUMN extra");
                }
            }
            assertThat(drifted.exitCode()).isEqualTo(4);
            assertThat(drifted.error().message()).contains("reverse: schema: the reverse stream could not write the target's rows into the "
                    + "old source: column(s) orders.extra missing there");

            CutoverReport dry = cutOver(run, true, Duration.ofSeconds(3));
            assertThat(dry.dryRun()).isTrue();
            assertThat(dry.ok()).as("%s", dry).isTrue();
            assertThat(dry.steps().get(0).detail()).contains("warning foreign-key cascades: the child rows these foreign keys change "
                    + "by cascade are not in the binlog").contains("audit.audit_order -> orders (ON DELETE CASCADE")
                    .contains("the cutover redoes ON DELETE CASCADE");
            assertThat(dry.exitCode()).isZero();
            assertThat(dry.steps()).extracting(CutoverReport.Step::name).containsExactly("preconditions", "freeze", "fence", "verify",
                    "sequences", "switch", "open");
            assertThat(dry.steps().subList(1, dry.steps().size())).allMatch(s -> s.detail().startsWith("predicted: "));
            assertThat(run.migration.status().phase()).isEqualTo(Phase.STREAMING);
            assertThat(server(runtime(admin, "show servers state mariadb"))).as("the proxy is untouched").isEqualTo(proxyBefore)
                    .startsWith("127.0.0.1:" + servers.mariadbSource().port());
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("INSERT INTO orders (note) VALUES ('after-dry-run')"); // not frozen
            }
            DriverManager.getConnection(servers.mariadbSource().jdbcUrl(fixture.database), app, "app-pw").close(); // not locked
            try (Connection c = fixture.target(); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")) {
                rs.next();
                assertThat(rs.getInt(1)).as("no trigger created").isZero();
            }
            run.awaitCaughtUp();
            assertThat(notes(fixture.target())).contains("after-dry-run");
        }
    }

    @Test
    void aLongTransactionAndAnUnreachableProxyRefuseTheCutoverNamingBoth(SandboxServers servers) throws Exception {
        setUp(servers, "cutpre", "");
        Plan unreachable = fixture.plan("cutover: {maxLag: 3s, applicationUsers: [\"" + app + "@%\"], switch: [{haproxy: {admin: \"127.0.0.1:1\", "
                + "backend: mariadb, server: primary}}]}");
        try (MigrationHarness run = new MigrationHarness(unreachable); Connection longOne = fixture.source()) {
            run.awaitPhase(Phase.STREAMING);
            run.awaitCaughtUp();
            assertThat(run.migration.validate(List.of(), false).ok()).isTrue();
            longOne.setAutoCommit(false);
            try (Statement st = longOne.createStatement()) {
                st.execute("UPDATE orders SET note = 'held' WHERE id = 1"); // open, not committed
            }
            Thread.sleep(2_100);
            CutoverReport refused = cutOver(run, true, Duration.ofSeconds(1));
            assertThat(refused.exitCode()).isEqualTo(4);
            assertThat(refused.error().code()).isEqualTo("CUTOVER_PRECONDITION");
            assertThat(refused.error().message()).contains("long transactions: 1 write transaction(s) open longer than the 1 s budget")
                    .contains("switch reachable: haproxy mariadb/primary at 127.0.0.1:1: HAProxy's runtime API at 127.0.0.1:1 does not answer");
            assertThat(run.migration.status().phase()).isEqualTo(Phase.STREAMING);
            longOne.rollback();
        }
    }

    @Test
    void aReadOnlyFreezeCutsOverAndCompleteLiftsTheLastingFreeze(SandboxServers servers) throws Exception {
        Plan plan = setUp(servers, "cutro", ", freeze: read-only");
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            run.awaitCaughtUp();
            assertThat(run.migration.validate(List.of(), false).ok()).isTrue();
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("INSERT INTO orders (note) VALUES ('before-cutover')");
            }
            CutoverReport report = cutOver(run, false, null);
            assertThat(report.ok()).as("%s", report).isTrue();
            assertThat(report.steps()).extracting(CutoverReport.Step::detail).anyMatch(d -> d.contains("SET GLOBAL read_only = ON"));
            assertThat(readOnly()).as("the old source stays read-only after the switch").isTrue();
            assertThat(notes(fixture.target())).contains("before-cutover");
            try {
                DriverManager.getConnection(servers.mariadbSource().jdbcUrl(fixture.database), app, "app-pw").close();
                throw new AssertionError("the application's login still opens sessions on the old source");
            } catch (SQLException expected) {
                assertThat(expected.getMessage()).containsIgnoringCase("locked");
            }
        } catch (Throwable t) {
            try (Connection c = MariaDbFixture.connect(servers.mariadbSource()); Statement st = c.createStatement()) {
                st.execute("SET GLOBAL read_only = OFF"); // never leave the shared sandbox source read-only
            }
            throw t;
        }
        var completion = io.migrator.core.run.Migrations.discover().complete(plan);
        assertThat(completion.released()).anyMatch(r -> r.contains("read_only OFF") && r.contains("unlocked"));
        assertThat(readOnly()).isFalse();
        DriverManager.getConnection(servers.mariadbSource().jdbcUrl(fixture.database), app, "app-pw").close(); // unlocked
    }

    private boolean readOnly() throws SQLException {
        try (Connection c = MariaDbFixture.connect(servers.mariadbSource()); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT @@global.read_only")) {
            rs.next();
            return rs.getInt(1) == 1;
        }
    }

    private static CutoverReport cutOver(MigrationHarness run, boolean dryRun, Duration budget) throws InterruptedException {
        return io.migrator.connectors.testing.CutoverRuns.run(run.migration, dryRun, budget);
    }

    private String proxyUrl(SandboxServers servers) {
        return "jdbc:mariadb://127.0.0.1:" + (Sandbox.MARIADB_PROXY_PORT + servers.sandbox().portOffset()) + "/" + fixture.database;
    }

    private static Set<String> notes(Connection c) throws SQLException {
        Set<String> notes = new HashSet<>();
        try (c; Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT note FROM orders")) {
            while (rs.next()) {
                notes.add(rs.getString(1));
            }
        }
        return notes;
    }

    /** From `show servers state`: the primary's address, port and admin and operational states (not its ticking timers). */
    private static String server(String state) {
        for (String line : state.split("\n")) {
            String[] f = line.trim().split(" ");
            if (f.length > 18 && f[3].equals("primary")) {
                return f[4] + ":" + f[18] + " op " + f[5] + " admin " + f[6];
            }
        }
        throw new AssertionError("no primary in " + state);
    }

    /** HAProxy's runtime API, one command. */
    static String runtime(String admin, String command) throws Exception {
        int colon = admin.lastIndexOf(':');
        try (Socket s = new Socket(admin.substring(0, colon), Integer.parseInt(admin.substring(colon + 1)))) {
            OutputStream out = s.getOutputStream();
            out.write((command + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
