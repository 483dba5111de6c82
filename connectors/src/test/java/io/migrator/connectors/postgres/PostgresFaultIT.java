package io.migrator.connectors.postgres;

import io.migrator.connectors.testing.FaultProxy;
import io.migrator.connectors.testing.NetworkFaultScenario;
import io.migrator.core.plan.Plan;
import io.migrator.sandbox.SandboxEngine;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@link NetworkFaultScenario} on real PostgreSQL servers: cut and half-open connections to both, nothing lost. */
@ExtendWith(SandboxExtension.class)
class PostgresFaultIT {
    private PostgresFixture fixture;
    private FaultProxy sourceProxy;
    private FaultProxy targetProxy;

    @AfterEach
    void cleanUp() throws Exception {
        if (sourceProxy != null) {
            sourceProxy.close();
        }
        if (targetProxy != null) {
            targetProxy.close();
        }
        if (fixture != null) {
            fixture.close();
        }
    }

    @Test
    void ridesOutCutAndHalfOpenConnectionsOnBothSidesAndLosesNothing(SandboxServers servers) throws Exception {
        scenario(servers, "pgfault").run();
    }

    @Test
    void ridesOutCutAndHalfOpenConnectionsDuringTheCopyAndLosesNothing(SandboxServers servers) throws Exception {
        scenario(servers, "pgfaultcopy").runDuringCopy();
    }

    private NetworkFaultScenario scenario(SandboxServers servers, String prefix) throws Exception {
        servers.sandbox().up(java.util.EnumSet.of(SandboxEngine.POSTGRESQL), false);
        fixture = new PostgresFixture(servers, prefix);
        sourceProxy = new FaultProxy(fixture.source.host(), fixture.source.port());
        targetProxy = new FaultProxy(fixture.target.host(), fixture.target.port());
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id bigint PRIMARY KEY, note text NOT NULL, n int NOT NULL DEFAULT 0)");
            st.execute("INSERT INTO orders SELECT g, 'seed-' || g, 0 FROM generate_series(1, 3000) g");
        }
        return new NetworkFaultScenario(sourceProxy, targetProxy) {
            @Override
            protected Plan plan(String network) {
                String yaml = """
                        name: %s
                        source: {engine: postgresql, host: 127.0.0.1, port: %d, user: %s, password: "${env:PW}", database: %s}
                        target: {engine: postgresql, host: 127.0.0.1, port: %d, user: %s, password: "${env:PW}", database: %s}
                        network: %s
                        """.formatted(fixture.db.replace('_', '-'), sourceProxy.port(), fixture.source.user(), fixture.db,
                        targetProxy.port(), fixture.target.user(), fixture.db, network);
                return new io.migrator.core.plan.PlanLoader(java.util.Map.of("PW", fixture.source.password())).parse("it.yaml", yaml,
                        java.nio.file.Path.of("."));
            }

            @Override
            protected Connection source() throws SQLException {
                return fixture.source();
            }

            @Override
            protected Connection target() throws SQLException {
                return fixture.target();
            }

            @Override
            protected List<?> rows(Connection c) throws SQLException {
                return PostgresFixture.rows(c, "orders", "id");
            }

            @Override
            protected String updateSql() {
                return "UPDATE orders SET n = n + 1, note = note || '+' WHERE id = ?";
            }
        };
    }
}
