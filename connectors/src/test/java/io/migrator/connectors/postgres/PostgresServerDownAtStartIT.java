package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.connectors.testing.FaultProxy;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.preflight.PlanCheckReport;
import io.migrator.core.preflight.PlanChecker;
import io.migrator.core.spi.EngineConnectors;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A worker started while its target is down (restarting, failing over: the connection refused) waits for it at the gate of
 * `migrator run` for network.maxOutage, and starts once it answers; a server that answers and refuses the login, or an
 * outage longer than network.maxOutage, ends the wait with the error at once; a stop ends it too.
 */
@Timeout(120)
class PostgresServerDownAtStartIT extends PostgresFixtureBase {
    @Test
    void aTargetDownAtStartIsWaitedForAndARefusedLoginIsNot(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgdownstart");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id int PRIMARY KEY, note text)");
        }
        PlanChecker checker = new PlanChecker(EngineConnectors.discover(), Duration.ofSeconds(5));
        try (FaultProxy target = new FaultProxy(fixture.target.host(), fixture.target.port())) {
            target.cut(); // every connection refused (reset at once), as a server restarting or failing over
            Plan plan = fixture.plan("network: {maxOutage: 5m}", target.port());
            long started = System.nanoTime();
            CompletableFuture<PlanCheckReport> gate = CompletableFuture.supplyAsync(() -> checker.requireWaiting(plan, () -> false));
            Thread.sleep(4_000);
            assertThat(gate).as("still waiting while the target is down").isNotDone();
            target.restore();
            PlanCheckReport report = gate.get(60, TimeUnit.SECONDS);
            assertThat(report).isNotNull();
            assertThat(report.ok()).as("%s", report).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofSeconds(4));

            // an outage longer than network.maxOutage: the error, after it
            target.cut();
            Plan impatient = fixture.plan("network: {maxOutage: 2s}", target.port());
            long from = System.nanoTime();
            assertThatThrownBy(() -> checker.requireWaiting(impatient, () -> false)).isInstanceOfSatisfying(MigratorException.class,
                    e -> assertThat(e.code()).isEqualTo(ErrorCode.CANNOT_CONNECT));
            assertThat(Duration.ofNanos(System.nanoTime() - from)).isGreaterThanOrEqualTo(Duration.ofSeconds(2)).isLessThan(Duration.ofSeconds(30));

            // a stop while waiting: no report, no error
            AtomicBoolean stop = new AtomicBoolean();
            CompletableFuture<PlanCheckReport> stopped = CompletableFuture.supplyAsync(() -> checker.requireWaiting(plan, stop::get));
            Thread.sleep(1_500);
            stop.set(true);
            assertThat(stopped.get(10, TimeUnit.SECONDS)).isNull();
        }

        // the server answers and refuses the login: no wait, whatever network.maxOutage says
        String yaml = """
                name: pgdownstart-login
                source: {engine: postgresql, host: %s, port: %d, user: %s, password: "${env:PW}", database: %s}
                target: {engine: postgresql, host: %s, port: %d, user: %s, password: "not-the-password", database: %s}
                network: {maxOutage: 10m}
                """.formatted(fixture.source.host(), fixture.source.port(), fixture.source.user(), fixture.db, fixture.target.host(),
                fixture.target.port(), fixture.target.user(), fixture.db);
        Plan refused = new io.migrator.core.plan.PlanLoader(java.util.Map.of("PW", fixture.source.password())).parse("r.yaml", yaml,
                java.nio.file.Path.of("."));
        long from = System.nanoTime();
        assertThatThrownBy(() -> checker.requireWaiting(refused, () -> false)).isInstanceOfSatisfying(MigratorException.class,
                e -> assertThat(e.getMessage()).contains("wrong user or password"));
        assertThat(Duration.ofNanos(System.nanoTime() - from)).as("refused at once, not waited for").isLessThan(Duration.ofSeconds(15));
    }
}
