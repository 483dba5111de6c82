package io.migrator.connectors.mysql;

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

/** {@link NetworkFaultScenario} on real MariaDB servers: cut and half-open connections to both, nothing lost. */
@ExtendWith(SandboxExtension.class)
class MariaDbFaultIT {
    private MariaDbFixture fixture;
    private FaultProxy sourceProxy;
    private FaultProxy targetProxy;

    @AfterEach
    void cleanUp() {
        if (sourceProxy != null) {
            sourceProxy.close();
        }
        if (targetProxy != null) {
            targetProxy.close();
        }
        if (fixture != null) {
            fixture.drop();
        }
    }

    @Test
    void ridesOutCutAndHalfOpenConnectionsOnBothSidesAndLosesNothing(SandboxServers servers) throws Exception {
        scenario(servers, "mfault").run();
    }

    @Test
    void ridesOutCutAndHalfOpenConnectionsDuringTheCopyAndLosesNothing(SandboxServers servers) throws Exception {
        scenario(servers, "mfaultcopy").runDuringCopy();
    }

    private NetworkFaultScenario scenario(SandboxServers servers, String prefix) throws Exception {
        servers.sandbox().up(java.util.EnumSet.of(SandboxEngine.MARIADB), false);
        fixture = new MariaDbFixture(servers, prefix);
        sourceProxy = new FaultProxy(fixture.source.host(), fixture.source.port());
        targetProxy = new FaultProxy(fixture.target.host(), fixture.target.port());
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, note VARCHAR(2000) NOT NULL, n INT NOT NULL DEFAULT 0)");
            st.execute("INSERT INTO orders SELECT seq, CONCAT('seed-', seq), 0 FROM seq_1_to_3000");
        }
        return new NetworkFaultScenario(sourceProxy, targetProxy) {
            @Override
            protected Plan plan(String network) {
                String yaml = """
                        name: %s
                        source: {engine: mariadb, host: 127.0.0.1, port: %d, user: %s, password: "${env:PW}", database: %s}
                        target: {engine: mariadb, host: 127.0.0.1, port: %d, user: %s, password: "${env:PW}", database: %s}
                        network: %s
                        """.formatted(fixture.database.replace('_', '-'), sourceProxy.port(), fixture.source.user(), fixture.database,
                        targetProxy.port(), fixture.target.user(), fixture.database, network);
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
                return MariaDbFixture.rows(c, "orders", "id");
            }

            @Override
            protected String updateSql() {
                return "UPDATE orders SET n = n + 1, note = CONCAT(LEFT(note, 1000), '+') WHERE id = ?";
            }
        };
    }
}
