package io.migrator.core.preflight;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.spi.Assessment;
import io.migrator.core.spi.EngineConnector;
import io.migrator.core.spi.EngineConnectors;
import io.migrator.core.spi.Role;
import io.migrator.core.spi.ServerInfo;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The gate of `migrator run`: every failure refuses a first start; checks for the start of the copy only warn on a restart. */
class PlanCheckerTest {
    private static final Plan PLAN = new PlanLoader(Map.of("PW", "secret")).parse("p.yaml", """
            name: gate
            source: {engine: postgresql, host: 127.0.0.1, port: 1, user: u, password: "${env:PW}", database: d}
            target: {engine: postgresql, host: 127.0.0.1, port: 2, user: u, password: "${env:PW}", database: d}
            """, Path.of("."));

    /** A connector whose source fails the given checks and whose target says whether the migration resumes. */
    private static PlanChecker checker(boolean resumes, String... failing) {
        EngineConnector fake = new EngineConnector() {
            @Override
            public Set<Engine> engines() {
                return Set.of(Engine.POSTGRESQL);
            }

            @Override
            public ServerInfo probe(Endpoint endpoint, Role role, Duration timeout) {
                return new ServerInfo("PostgreSQL", "15", Map.of());
            }

            @Override
            public List<Assessment> preflight(Plan plan, Role role, ServerInfo server) {
                return role == Role.TARGET ? List.of(Assessment.ok(role, "writable", "yes"))
                        : List.of(failing).stream().map(c -> Assessment.fail(role, c, c + " is not right", "fix " + c)).toList();
            }

            @Override
            public boolean resumes(Plan plan) {
                return resumes;
            }
        };
        return new PlanChecker(new EngineConnectors(List.of(fake)), Duration.ofSeconds(1));
    }

    @Test
    void aFirstStartIsRefusedWithEveryFailureAndItsRemedy() {
        assertThatThrownBy(() -> checker(false, "replication slots", "keys").require(PLAN)).isInstanceOf(MigratorException.class)
                .satisfies(e -> {
                    assertThat(((MigratorException) e).code()).isEqualTo(ErrorCode.PREFLIGHT_FAILED);
                    assertThat(e.getMessage()).startsWith("2 preflight assessment(s) failed").contains("source replication slots: "
                            + "replication slots is not right").contains("remedy: fix replication slots").contains("source keys");
                });
    }

    @Test
    void aRestartPassesCopyTimeChecksAsWarningsButNotTheOthers() {
        PlanCheckReport passed = checker(true, "replication slots", "WAL retention", "table definitions").require(PLAN);
        assertThat(passed.assessments()).filteredOn(a -> a.role() == Role.SOURCE && !a.check().equals("tls")).hasSize(3)
                .allSatisfy(a -> assertThat(a.severity()).isEqualTo(Assessment.Severity.WARN))
                .allSatisfy(a -> assertThat(a.finding()).endsWith("this migration resumes past it)"));
        assertThatThrownBy(() -> checker(true, "replication slots", "keys").require(PLAN)).isInstanceOf(MigratorException.class)
                .hasMessageStartingWith("1 preflight assessment(s) failed").hasMessageContaining("source keys")
                .hasMessageNotContaining("replication slots");
    }

    @Test
    @org.junit.jupiter.api.Timeout(60)
    void aHostNameThatDoesNotResolveIsWaitedForBrieflyNotForTheWholeOutageBudget() {
        EngineConnector unresolvable = new EngineConnector() {
            @Override
            public Set<Engine> engines() {
                return Set.of(Engine.POSTGRESQL);
            }

            @Override
            public ServerInfo probe(Endpoint endpoint, Role role, Duration timeout) {
                if (role == Role.TARGET) {
                    throw new MigratorException(ErrorCode.CANNOT_CONNECT, "cannot reach db.exmaple.com:5432", "check host",
                            new java.net.UnknownHostException("db.exmaple.com"));
                }
                return new ServerInfo("PostgreSQL", "15", Map.of());
            }

            @Override
            public List<Assessment> preflight(Plan plan, Role role, ServerInfo server) {
                return List.of();
            }
        };
        PlanChecker checker = new PlanChecker(new EngineConnectors(List.of(unresolvable)), Duration.ofSeconds(1), Duration.ofSeconds(2));
        assertThat(PLAN.network().maxOutage()).as("the budget for a server that is down").isGreaterThan(Duration.ofMinutes(1));
        assertThatThrownBy(() -> checker.requireWaiting(PLAN, () -> false)).isInstanceOf(MigratorException.class)
                .hasMessageContaining("db.exmaple.com");
        assertThat(PlanChecker.unresolved(new MigratorException(ErrorCode.CANNOT_CONNECT, "x", "y", new java.net.ConnectException())))
                .as("a refused connection is an outage, not a name").isFalse();
    }
}
