package io.migrator.connectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.preflight.PlanCheckReport;
import io.migrator.core.preflight.PlanChecker;
import io.migrator.core.spi.Assessment;
import io.migrator.core.spi.EngineConnectors;
import io.migrator.core.spi.Role;
import io.migrator.core.spi.ServerInfo;
import io.migrator.core.plan.Secret;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Each engine's connector reaches the real sandbox servers, and says clearly why when it cannot. */
@ExtendWith(SandboxExtension.class)
class ConnectorProbeIT {
    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private final EngineConnectors connectors = EngineConnectors.discover();

    static Endpoint endpoint(SandboxEndpoint s, Engine engine) {
        return new Endpoint(engine, s.host(), s.port(), s.user(), Secret.of(s.password()), s.database(),
                engine == Engine.REDIS ? List.of(0) : List.of(), !s.nodes().isEmpty());
    }

    @Test
    void probesEveryServerOfTheSandbox(SandboxServers servers) {
        ServerInfo maria = connectors.forEngine(Engine.MARIADB).probe(endpoint(servers.mariadbSource(), Engine.MARIADB), Role.SOURCE, TIMEOUT);
        assertThat(maria.product()).isEqualTo("MariaDB");
        assertThat(maria.version()).startsWith("10.11");
        assertThat(maria.facts()).containsEntry("serverId", "1").containsEntry("databaseExists", "true");

        ServerInfo pg = connectors.forEngine(Engine.POSTGRESQL).probe(endpoint(servers.postgresTarget(), Engine.POSTGRESQL), Role.TARGET, TIMEOUT);
        assertThat(pg.version()).startsWith("15");
        assertThat(pg.facts()).containsEntry("walLevel", "logical").containsEntry("databaseExists", "true");

        ServerInfo redis = connectors.forEngine(Engine.REDIS).probe(endpoint(servers.redisSource(), Engine.REDIS), Role.SOURCE, TIMEOUT);
        assertThat(redis.version()).startsWith("7.");
        assertThat(redis.facts()).containsEntry("mode", "standalone");

        ServerInfo cluster = connectors.forEngine(Engine.REDIS).probe(endpoint(servers.redisCluster(), Engine.REDIS), Role.TARGET, TIMEOUT);
        assertThat(cluster.facts()).containsEntry("mode", "cluster").containsEntry("clusterState", "ok");
    }

    @Test
    void wrongPasswordNamesTheUserAndNeverThePassword(SandboxServers servers) {
        for (var pair : List.of(Map.entry(servers.mariadbSource(), Engine.MARIADB), Map.entry(servers.postgresSource(), Engine.POSTGRESQL),
                Map.entry(servers.redisSource(), Engine.REDIS))) {
            SandboxEndpoint s = pair.getKey();
            Endpoint wrong = new Endpoint(pair.getValue(), s.host(), s.port(), s.user(), Secret.of("Wr0ng-pa55word"), s.database(),
                    List.of(), false);
            assertThatThrownBy(() -> connectors.forEngine(pair.getValue()).probe(wrong, Role.SOURCE, TIMEOUT))
                    .isInstanceOfSatisfying(MigratorException.class, e -> {
                        assertThat(e.code()).isEqualTo(ErrorCode.CANNOT_CONNECT);
                        assertThat(e.getMessage()).doesNotContain("Wr0ng-pa55word").contains("source");
                        assertThat(e.remedy()).contains("password");
                    });
        }
    }

    @Test
    void aClosedPortSaysTheServerCannotBeReached() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        for (Engine engine : List.of(Engine.MARIADB, Engine.POSTGRESQL, Engine.REDIS)) {
            Endpoint closed = new Endpoint(engine, "127.0.0.1", port, "migrator", Secret.of("x"), "shop", List.of(), false);
            assertThatThrownBy(() -> connectors.forEngine(engine).probe(closed, Role.TARGET, TIMEOUT))
                    .isInstanceOfSatisfying(MigratorException.class, e -> {
                        assertThat(e.exitCode().code()).isEqualTo(6);
                        assertThat(e.getMessage()).contains("127.0.0.1:" + port);
                        assertThat(e.remedy()).contains("listens on 127.0.0.1:" + port);
                    });
        }
    }

    @Test
    void planCheckFindsAMissingTargetDatabaseAndSaysHowToCreateIt(SandboxServers servers) {
        SandboxEndpoint s = servers.postgresSource();
        SandboxEndpoint t = servers.postgresTarget();
        String yaml = """
                name: probe-it
                source: {engine: postgresql, host: %s, port: %d, user: %s, password: "${env:PW}", database: shop}
                target: {engine: postgresql, host: %s, port: %d, user: %s, password: "${env:PW}", database: "no such db"}
                """.formatted(s.host(), s.port(), s.user(), t.host(), t.port(), t.user());
        Plan plan = new PlanLoader(Map.of("PW", s.password())).parse("probe.yaml", yaml, Path.of("."));
        PlanCheckReport report = new PlanChecker(connectors, TIMEOUT).check(plan);
        assertThat(report.allReachable()).isTrue();
        assertThat(report.preflightPassed()).isFalse();
        assertThat(report.assessments()).filteredOn(a -> a.severity() == Assessment.Severity.FAIL).singleElement()
                .satisfies(a -> {
                    assertThat(a.role()).isEqualTo(Role.TARGET);
                    assertThat(a.finding()).contains("'no such db' does not exist");
                    assertThat(a.remedy()).contains("CREATE DATABASE \"no such db\"");
                });
    }
}
