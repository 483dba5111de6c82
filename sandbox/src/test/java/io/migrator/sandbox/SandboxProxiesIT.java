package io.migrator.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;

/**
 * `sandbox up --proxies`: the application's endpoints forward to the sources, and they take the commands a cutover's
 * switch step sends: HAProxy's runtime API repoints the backend server (new connections reach the other server) and
 * pgbouncer's admin console answers the sandbox user.
 */
@ExtendWith(SandboxExtension.class)
class SandboxProxiesIT {
    @Test
    void theApplicationsEndpointsForwardToTheSourcesAndTakeASwitch(SandboxServers servers) throws Exception {
        Sandbox sandbox = servers.sandbox();
        List<String> started = sandbox.proxiesNotRunning(Sandbox.allEngines());
        try {
            sandbox.up(Sandbox.allEngines(), true);
            int offset = sandbox.portOffset();
            SandboxEndpoint mariadb = servers.get("haproxy-mariadb");
            SandboxEndpoint pgbouncer = servers.get("pgbouncer");
            SandboxEndpoint redis = servers.get("haproxy-redis");
            assertThat(List.of(mariadb, pgbouncer, redis)).allSatisfy(p -> {
                assertThat(p.role()).isEqualTo("proxy");
                assertThat(p.running()).isTrue();
            });
            assertThat(mariadb.port()).isEqualTo(Sandbox.MARIADB_PROXY_PORT + offset);

            assertThat(mariadbPort(mariadb)).as("through HAProxy to the source").isEqualTo(servers.mariadbSource().port());
            String admin = "127.0.0.1:" + (Sandbox.MARIADB_PROXY_ADMIN_PORT + offset);
            assertThat(runtime(admin, "show servers state mariadb")).contains("primary");
            try {
                runtime(admin, "set server mariadb/primary addr 127.0.0.1 port " + servers.mariadbTarget().port());
                assertThat(mariadbPort(mariadb)).as("a new connection after the repoint reaches the target")
                        .isEqualTo(servers.mariadbTarget().port());
            } finally {
                runtime(admin, "set server mariadb/primary addr 127.0.0.1 port " + servers.mariadbSource().port());
            }
            assertThat(mariadbPort(mariadb)).isEqualTo(servers.mariadbSource().port());

            try (Connection c = DriverManager.getConnection(pgbouncer.jdbcUrl(), pgbouncer.user(), pgbouncer.password());
                 Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT inet_server_port()")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getInt(1)).as("through pgbouncer to the source").isEqualTo(servers.postgresSource().port());
            }
            // the admin console refuses the extra_float_digits every pgjdbc connection sends: psql speaks to it
            ProcessBuilder console = new ProcessBuilder("psql", "-X", "-A", "-t", "-F", "=", "-h", pgbouncer.host(), "-p", Integer.toString(pgbouncer.port()),
                    "-U", pgbouncer.user(), "-d", "pgbouncer", "-c", "SHOW CONFIG").redirectErrorStream(true);
            console.environment().put("PGPASSWORD", pgbouncer.password());
            Process psql = console.start();
            psql.getOutputStream().close();
            String shown = new String(psql.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(psql.waitFor()).as(shown).isZero();
            assertThat(shown.lines()).as("the admin console, with transaction pooling").anyMatch(l -> l.startsWith("pool_mode=transaction"));

            var config = DefaultJedisClientConfig.builder().password(redis.password()).autoNegotiateProtocol(false).build();
            try (Jedis jedis = new Jedis(new HostAndPort(redis.host(), redis.port()), config)) {
                assertThat(jedis.info("server")).as("through HAProxy to the Redis source")
                        .contains("tcp_port:" + servers.redisSource().port());
            }
            assertThat(runtime("127.0.0.1:" + (Sandbox.REDIS_PROXY_ADMIN_PORT + offset), "show servers state redis")).contains("primary");
        } finally {
            if (!started.isEmpty()) {
                sandbox.down(new HashSet<>(started));
            }
        }
        if (!started.isEmpty()) {
            assertThat(started).allSatisfy(name -> assertThat(servers.get(name).running()).as(name + " stopped").isFalse());
        }
    }

    private static int mariadbPort(SandboxEndpoint proxy) throws Exception {
        try (Connection c = DriverManager.getConnection(proxy.jdbcUrl(), proxy.user(), proxy.password());
             Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT @@port")) {
            assertThat(rs.next()).isTrue();
            return rs.getInt(1);
        }
    }

    /** One command on HAProxy's runtime API (a stats socket over TCP): it answers and closes the connection. */
    private static String runtime(String address, String command) throws Exception {
        int colon = address.lastIndexOf(':');
        try (Socket socket = new Socket(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)))) {
            OutputStream out = socket.getOutputStream();
            out.write((command + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            List<String> lines = new ArrayList<>();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                lines.add(line);
            }
            return String.join("\n", lines);
        }
    }
}
