package io.migrator.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.RedisClusterClient;

/** The sandbox servers run, are configured for CDC, and keep what is written to them. */
@ExtendWith(SandboxExtension.class)
class SandboxIT {

    private static Connection jdbc(SandboxEndpoint e) throws Exception {
        return DriverManager.getConnection(e.jdbcUrl(), e.user(), e.password());
    }

    private static Map<String, String> row(Connection c, String sql) throws Exception {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            assertThat(rs.next()).as("a row from: %s", sql).isTrue();
            Map<String, String> values = new HashMap<>();
            for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                values.put(rs.getMetaData().getColumnLabel(i), rs.getString(i));
            }
            return values;
        }
    }

    @Test
    void mariadbPairIsReadyForBinlogCdc(SandboxServers servers) throws Exception {
        try (Connection source = jdbc(servers.mariadbSource()); Connection target = jdbc(servers.mariadbTarget())) {
            Map<String, String> s = row(source, "SELECT @@log_bin AS log_bin, @@binlog_format AS fmt, @@binlog_row_image AS img,"
                    + " @@server_id AS id, @@gtid_strict_mode AS gtid, @@character_set_server AS cs");
            Map<String, String> t = row(target, "SELECT @@server_id AS id, @@binlog_format AS fmt");
            assertThat(s).containsEntry("log_bin", "1").containsEntry("fmt", "ROW").containsEntry("img", "FULL")
                    .containsEntry("gtid", "1").containsEntry("cs", "utf8mb4");
            assertThat(t.get("id")).isNotEqualTo(s.get("id"));
            assertThat(t).containsEntry("fmt", "ROW");

            // its own database: a table created and dropped in `shop` would reach a migration streaming from the sandbox
            String table = "sandbox_it_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8) + "`.`probe";
            try (Statement st = source.createStatement()) {
                st.execute("CREATE DATABASE `" + table.substring(0, table.indexOf('`')) + "`");
                st.execute("CREATE TABLE `" + table + "` (id BIGINT PRIMARY KEY, note VARCHAR(50)) ENGINE=InnoDB");
                st.execute("INSERT INTO `" + table + "` VALUES (1, 'héllo 🛒'), (2, NULL)");
            }
            assertThat(row(source, "SELECT note FROM `" + table + "` WHERE id = 1")).containsEntry("note", "héllo 🛒");
            assertThat(row(source, "SELECT COUNT(*) AS n FROM `" + table + "`")).containsEntry("n", "2");
            try (Statement st = source.createStatement()) {
                st.execute("DROP DATABASE `" + table.substring(0, table.indexOf('`')) + "`");
            }
        }
    }

    @Test
    void postgresPairIsReadyForLogicalDecoding(SandboxServers servers) throws Exception {
        try (Connection source = jdbc(servers.postgresSource()); Connection target = jdbc(servers.postgresTarget())) {
            assertThat(row(source, "SELECT current_setting('wal_level') AS w, current_setting('max_replication_slots') AS slots"))
                    .containsEntry("w", "logical").containsEntry("slots", "20");
            assertThat(row(target, "SELECT rolreplication AS r FROM pg_roles WHERE rolname = current_user")).containsEntry("r", "t");
            String slot = "sandbox_it_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
            // A logical slot is the proof that CDC can start here.
            assertThat(row(source, "SELECT slot_name AS s FROM pg_create_logical_replication_slot('" + slot + "', 'pgoutput')"))
                    .containsEntry("s", slot);
            row(source, "SELECT pg_drop_replication_slot('" + slot + "') IS NULL AS dropped");
            try (Statement st = target.createStatement()) {
                st.execute("CREATE TEMP TABLE t (id int PRIMARY KEY, v text)");
                st.execute("INSERT INTO t VALUES (1, 'x'), (2, '')");
            }
            assertThat(row(target, "SELECT v FROM t WHERE id = 2")).containsEntry("v", "");
        }
    }

    @Test
    void redisServersAndClusterKeepWhatIsWritten(SandboxServers servers) {
        SandboxEndpoint source = servers.redisSource();
        DefaultJedisClientConfig config = DefaultJedisClientConfig.builder().password(source.password()).autoNegotiateProtocol(false).build();
        try (Jedis jedis = new Jedis(new HostAndPort(source.host(), source.port()), config)) {
            assertThat(jedis.configGet("repl-backlog-size")).containsEntry("repl-backlog-size", "268435456");
            jedis.set("sandbox:it", "v1");
            assertThat(jedis.get("sandbox:it")).isEqualTo("v1");
            jedis.del("sandbox:it");
        }
        SandboxEndpoint cluster = servers.redisCluster();
        assertThat(cluster.nodes()).hasSize(3);
        try (RedisClusterClient client = RedisClusterClient.builder()
                .nodes(java.util.Set.of(new HostAndPort(cluster.host(), cluster.port())))
                .clientConfig(DefaultJedisClientConfig.builder().password(cluster.password()).autoNegotiateProtocol(false).build())
                .build()) {
            for (int i = 0; i < 50; i++) {
                client.set("sandbox:it:" + i, Integer.toString(i));
            }
            for (int i = 0; i < 50; i++) {
                assertThat(client.get("sandbox:it:" + i)).isEqualTo(Integer.toString(i));
                client.del("sandbox:it:" + i);
            }
            assertThat(client.getClusterNodes()).hasSizeGreaterThanOrEqualTo(3);
        }
    }
}
