package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** What an interrupted run's fixture leaves on the source (a database and its slot, which keeps WAL) is dropped by the next run. */
@ExtendWith(SandboxExtension.class)
class PostgresFixtureSweepIT {

    @Test
    void aLeftoverDatabaseAndItsSlotAreDroppedButNotOneInUse(SandboxServers servers) throws Exception {
        SandboxEndpoint source = servers.postgresSource();
        String left = "leftover_" + Long.toHexString(System.nanoTime() & 0xffffffffL | 0x10000000L);
        String busy = "busyleft_" + Long.toHexString(System.nanoTime() & 0xffffffffL | 0x10000000L);
        try (Connection c = PostgresFixture.connect(source, "postgres"); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + left);
            st.execute("CREATE DATABASE " + busy);
        }
        try (Connection c = PostgresFixture.connect(source, left); Statement st = c.createStatement()) {
            st.execute("SELECT pg_create_logical_replication_slot('" + left + "_slot', 'pgoutput')");
        }
        try (Connection inUse = PostgresFixture.connect(source, busy)) {
            var dropped = PostgresFixture.sweepLeftovers(source, Duration.ZERO);
            assertThat(dropped).contains(left).doesNotContain(busy);
            try (Connection c = PostgresFixture.connect(source, "postgres")) {
                assertThat(PostgresFixture.scalar(c, "SELECT count(*) FROM pg_database WHERE datname = '" + left + "'")).isEqualTo("0");
                assertThat(PostgresFixture.scalar(c, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + left + "_slot'"))
                        .isEqualTo("0");
                assertThat(PostgresFixture.scalar(c, "SELECT count(*) FROM pg_database WHERE datname = '" + busy + "'"))
                        .as("a database someone is connected to stays").isEqualTo("1");
            }
        } finally {
            try (Connection c = PostgresFixture.connect(source, "postgres"); Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + busy + " WITH (FORCE)");
                st.execute("DROP DATABASE IF EXISTS " + left + " WITH (FORCE)");
            }
        }
    }
}
