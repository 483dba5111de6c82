package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Plan;
import io.migrator.core.spi.Role;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/**
 * migrator's sessions print and parse money in the C locale whatever lc_monetary their database gives them. money is an
 * integer count of the currency's smallest unit whose text and numeric value follow the session's lc_monetary (two
 * fractional digits in most locales, none for yen), so the copy, the stream, the applier and the checksums must read it
 * alike on both sides. This machine has only the C, C.utf8 and POSIX locales, whose money forms agree: the test shows
 * the sessions pinned against a database default of C.utf8, not a conversion between two currencies.
 */
class PostgresMonetaryIT extends PostgresFixtureBase {
    @Test
    void everySessionOfMigratorReadsMoneyInTheCLocale(SandboxServers servers) throws Exception {
        fixture = new PostgresFixture(servers, "pgmonetary");
        for (Connection c : java.util.List.of(fixture.source(), fixture.target())) {
            try (c; Statement st = c.createStatement()) {
                st.execute("ALTER DATABASE " + fixture.db + " SET lc_monetary = 'C.utf8'");
            }
        }
        try (Connection c = fixture.target()) {
            assertThat(monetary(c)).as("a session of anyone else's gets the database's default").isEqualToIgnoringCase("C.utf8");
        }
        Plan plan = fixture.plan("");
        try (var pool = PostgresPools.open(plan.target(), Role.TARGET, "monetary-test", 1, "SET standard_conforming_strings = on");
             Connection c = pool.getConnection()) {
            assertThat(monetary(c)).as("a pooled session (copy, applier, checksums)").isEqualTo("C");
        }
        try (Connection c = PgOutputStream.replicationSession(plan.source())) {
            assertThat(monetary(c)).as("the walsender's session, which prints the stream's values").isEqualTo("C");
        }
    }

    private static String monetary(Connection c) throws Exception {
        return PostgresFixture.scalar(c, "SHOW lc_monetary");
    }
}
