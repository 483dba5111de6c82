package io.migrator.connectors;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.mysql.MySqlFamilyConnector;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Secret;
import io.migrator.core.spi.Role;
import io.migrator.core.spi.ServerInfo;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.mysql.MySQLContainer;

/**
 * MySQL-only paths need a MySQL server; no Debian package exists here, so they run in a Testcontainers
 * MySQL 8.4 where a Docker engine exists and are skipped, with the reason, where none does.
 */
class MySqlContainerIT {
    private static void requireDocker() {
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException e) {
            docker = false;
        }
        Assumptions.assumeTrue(docker, "SKIPPED: no Docker engine on this machine, so no MySQL 8.4 server: "
                + "MySQL-specific tests run only where Testcontainers finds Docker (MariaDB paths are covered by the sandbox)");
    }

    @Test
    void probesAndWritesToMySql84() throws Exception {
        requireDocker();
        try (MySQLContainer mysql = new MySQLContainer("mysql:8.4")) {
            mysql.start();
            Endpoint endpoint = new Endpoint(Engine.MYSQL, mysql.getHost(), mysql.getFirstMappedPort(), "root",
                    Secret.of(mysql.getPassword()), mysql.getDatabaseName(), List.of(), false);
            ServerInfo info = new MySqlFamilyConnector().probe(endpoint, Role.SOURCE, Duration.ofSeconds(10));
            assertThat(info.product()).isEqualTo("MySQL");
            assertThat(info.version()).startsWith("8.4");
            try (Connection c = MySqlFamilyConnector.connect(endpoint, Duration.ofSeconds(10)); Statement st = c.createStatement()) {
                st.execute("CREATE TABLE `" + mysql.getDatabaseName() + "`.t (id INT PRIMARY KEY, v VARCHAR(10))");
                st.execute("INSERT INTO `" + mysql.getDatabaseName() + "`.t VALUES (1, 'mysql')");
                try (ResultSet rs = st.executeQuery("SELECT v FROM `" + mysql.getDatabaseName() + "`.t WHERE id = 1")) {
                    assertThat(rs.next()).isTrue();
                    assertThat(rs.getString(1)).isEqualTo("mysql");
                }
            }
        }
    }
}
