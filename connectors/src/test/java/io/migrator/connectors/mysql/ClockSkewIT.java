package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.Statement;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Lag is read on the source's clock, the one that stamped the changes: a worker host whose clock runs two minutes ahead
 * (migrator.clockSkewMillis shifts the worker's clock) still sees the stream caught up, a lag of a second or two and the
 * migration ready for a cutover; read on its own clock it would show two minutes and never reach STREAMING.
 */
@ExtendWith(SandboxExtension.class)
class ClockSkewIT {
    private MariaDbFixture fixture;

    @AfterEach
    void cleanUp() {
        System.clearProperty("migrator.clockSkewMillis");
        if (fixture != null) {
            fixture.drop();
        }
    }

    @Test
    void aWorkerHostTwoMinutesAheadSeesNoLagThatIsNotThere(SandboxServers servers) throws Exception {
        servers.sandbox().up(java.util.EnumSet.of(io.migrator.sandbox.SandboxEngine.MARIADB), false);
        fixture = new MariaDbFixture(servers, "skew");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(40) NOT NULL)");
            st.execute("INSERT INTO orders SELECT seq, CONCAT('seed-', seq) FROM seq_1_to_500");
        }
        System.setProperty("migrator.clockSkewMillis", "120000");
        Plan plan = fixture.plan("cutover: {maxLag: 5s}");
        try (MigrationHarness run = new MigrationHarness(plan)) {
            run.awaitPhase(Phase.STREAMING);
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("INSERT INTO orders VALUES (501, 'after')");
            }
            run.awaitCaughtUp();
            Thread.sleep(2_000);
            Double lag = run.migration.status().lag().seconds();
            assertThat(lag).as("the lag on the source's clock").isNotNull().isLessThan(10.0);
            assertThat(run.migration.validate(java.util.List.of(), false).ok()).isTrue();
            assertThat(run.migration.status().cutoverReady()).as("a skewed worker clock does not hold the cutover back").isTrue();
        }
        try (Connection c = fixture.target(); Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT note FROM orders WHERE id = 501")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("after");
        }
    }
}
